#!/usr/bin/env python
"""Month so far benchmark on PostgreSQL: one company with many delivered templates
this month, ``/billing/usage/`` and ``GET /api/usage/`` under 16 concurrent
clients on gunicorn, beside a trivial Django view (the login page) measured in
the same run, and ``license_assign`` timed on the company while the load runs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/usage.py --templates 285000

Drops and recreates its own database (``BENCH_DATABASE``, default
``wa_bench_usage``). Prints p50/p95/p99 and requests/s of each URL, the
ratio of each p95 to the reference's, and license_assign's latency alone and
during the load. The load generator is a second process on the same machine.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get("BENCH_DATABASE", "wa_bench_usage")
if not BENCH_DB.replace("_", "").isalnum():
    sys.exit("BENCH_DATABASE: letters, digits and underscores only")
PORT = int(os.environ.get("BENCH_PORT", "8791"))


def _url() -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not url.startswith("postgres"):
        sys.exit("bench/usage.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    return urlunparse(urlparse(url)._replace(path="/" + BENCH_DB))


def _recreate(url: str) -> None:
    import psycopg

    admin = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")


def _load(args) -> None:
    """The load generator (its own process): ``clients`` threads GET ``url`` for
    ``seconds``; prints one line of latencies in ms."""
    import http.client

    url, headers, clients, seconds = args
    latencies: list[float] = []
    errors = [0]
    stop = time.perf_counter() + seconds

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                conn.request("GET", url, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                ok = False
            if ok:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{len(latencies)} {errors[0]} {q[49]:.1f} {q[94]:.1f} {q[98]:.1f} {len(latencies) / seconds:.1f}"
    )


def generate(templates: int):
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Company, User
    from billing.markets import markets_seed
    from billing.models import Market, Rate, RateCard
    from billing.rules import month_bounds, month_of
    from licensing.services import license_price_set
    from tests.factories import (
        BusinessNumberFactory,
        CompanyAdminFactory,
        CompanyFactory,
        MessageTemplateFactory,
    )

    markets_seed()
    company = CompanyFactory(billing_timezone="UTC")
    license_price_set(
        company=company,
        currency=company.billing_currency,
        monthly_amount="30.00",
        actor=None,
    )
    number = BusinessNumberFactory(company=company)
    template = MessageTemplateFactory(company=company, category="marketing")
    card = RateCard.objects.create(company=None, currency=company.billing_currency)
    start, _ = month_bounds(month_of(timezone.now(), company.zone), company.zone)
    for market in Market.objects.all():
        for category in ("marketing", "utility", "authentication"):
            Rate.objects.create(
                card=card,
                market=market,
                category=category,
                rate="0.0500",
                effective_from=start - timezone.timedelta(days=400),
            )
    admin = CompanyAdminFactory(company=company)
    span = max((timezone.now() - start).total_seconds() - 60, 60)
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO messaging_contact (created_at, updated_at, company_id, wa_id,
                 profile_name, country)
               SELECT now(), now(), %s, '346' || lpad(g::text, 8, '0'), 'C' || g, 'ES'
               FROM generate_series(1, 200) g""",
            [company.pk],
        )
        cursor.execute(
            """INSERT INTO messaging_conversation (created_at, updated_at, company_id,
                 business_number_id, contact_id)
               SELECT now(), now(), %s, %s, id FROM messaging_contact WHERE company_id = %s""",
            [company.pk, number.pk, company.pk],
        )
        cursor.execute(
            """INSERT INTO messaging_message (company_id, conversation_id, direction, type,
                 body, wamid, template_id, template_category, template_params,
                 provider_timestamp, status, sent_at, delivered_at, error_title, created_at)
               SELECT %s, c.id, 'out', 'template', '', 'wamid.bench' || g, %s, 'marketing',
                      '[]', %s + (g * %s / %s) * interval '1 second', 'delivered',
                      %s + (g * %s / %s) * interval '1 second',
                      %s + (g * %s / %s + 1) * interval '1 second', '', now()
               FROM generate_series(1, %s) g
               JOIN LATERAL (SELECT id FROM messaging_conversation
                             WHERE company_id = %s ORDER BY id
                             OFFSET (g %% 200) LIMIT 1) c ON true""",
            [
                company.pk,
                template.pk,
                start,
                span,
                templates,
                start,
                span,
                templates,
                start,
                span,
                templates,
                templates,
                company.pk,
            ],
        )
        cursor.execute("ANALYZE")
    return Company.objects.get(pk=company.pk), User.objects.get(pk=admin.pk)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--templates", type=int, default=285_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    url = _url()
    _recreate(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "*")
    import django

    django.setup()
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from billing.services import usage_sync
    from licensing.services import license_assign, license_count_set, license_revoke
    from tests.factories import UserFactory

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    started = time.perf_counter()
    company, admin = generate(args.templates)
    print(f"{'generate':<44} {time.perf_counter() - started:10.2f} s")
    started = time.perf_counter()
    usage_sync(company=company, full=True)
    print(
        f"{'first sync (full, every charge)':<44} {time.perf_counter() - started:10.2f} s"
    )
    started = time.perf_counter()
    usage_sync(company=company)
    print(
        f"{'sync without changes':<44} {(time.perf_counter() - started) * 1000:10.1f} ms"
    )
    token = Token.objects.create(user=admin).key
    license_count_set(company=company, quantity=5, actor=None)
    agent = UserFactory(company=company)

    def assign_once() -> float:
        t = time.perf_counter()
        license_assign(company=company, users=[agent], actor=None)
        license_revoke(company=company, users=[agent], actor=None)
        return (time.perf_counter() - t) * 1000

    alone = sorted(assign_once() for _ in range(20))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            "3",
            "-k",
            "gthread",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    time.sleep(4)
    auth = {"Authorization": f"Token {token}"}
    from django.test import Client

    browser = Client()
    browser.force_login(admin)
    cookie = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}"}
    runs = [
        ("reference: the login page (trivial view)", "/accounts/login/", {}),
        ("GET /api/usage/", "/api/usage/", auth),
        ("/billing/usage/", "/billing/usage/", cookie),
    ]
    try:
        print(
            f"load: {args.clients} clients, {args.seconds} s each, load average "
            f"{os.getloadavg()[0]:.2f}"
        )
        results = {}
        for label, path, headers in runs:
            during: list[float] = []
            stop = threading.Event()

            def assigner(during=during, stop=stop):
                while not stop.is_set():
                    during.append(assign_once())
                    time.sleep(0.2)

            t = threading.Thread(target=assigner)
            t.start()
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--_load",
                    path,
                    repr(headers),
                    str(args.clients),
                    str(args.seconds),
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
                check=True,
            ).stdout.split()
            stop.set()
            t.join()
            n, errors, p50, p95, p99, rps = out
            results[label] = float(p95)
            ref = results[runs[0][0]]
            print(
                f"{label:<44} n={n} errors={errors} p50={p50} ms p95={p95} ms "
                f"p99={p99} ms {rps} req/s  p95/ref={float(p95) / ref:.2f}  "
                f"license_assign during: p50={statistics.median(during):.1f} ms "
                f"max={max(during):.1f} ms (alone p50={statistics.median(alone):.1f} ms) "
                f"load {os.getloadavg()[0]:.2f}"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_load":
        import ast

        _load(
            (
                sys.argv[2],
                ast.literal_eval(sys.argv[3]),
                int(sys.argv[4]),
                int(sys.argv[5]),
            )
        )
    else:
        main()
