#!/usr/bin/env python
"""Webhook ingestion benchmark: the real /webhooks/whatsapp/ endpoint on gunicorn +
PostgreSQL + Redis + Celery workers, driven from a second process on 127.0.0.1.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/ingest.py [--updates 20000] [--clients 8]

For batches of 1, 100 and 1000 status updates per POST it prints the answer
latency (p50/p99) and the updates processed per second end to end (until every
message's delivery is in the database), and as a ceiling the same server
answering empty signed POSTs. The database ``wa_billing_ingest`` is recreated.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "wa_billing_ingest"
PORT = 8766
SECRET = "bench-app-secret"
T0 = datetime(2026, 10, 5, 9, tzinfo=UTC)


def _urls() -> tuple[str, str]:
    db = urlparse(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    )
    if not db.scheme.startswith("postgres"):
        sys.exit("bench/ingest.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    redis = (
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
        + "/13"
    )
    return urlunparse(db._replace(path="/" + DB)), redis


def _recreate(url: str) -> None:
    import psycopg

    admin = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")


def _env(db_url: str, redis_url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_LOG_LEVEL": "WARNING",
        "WHATSAPP_APP_SECRET": SECRET,
        "WHATSAPP_SANDBOX_EMIT_STATUSES": "false",
    }


def prepare(env: dict, messages: int) -> str:
    """One company, one number, 200 contacts, ``messages`` accepted templates."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import Company
    from messaging.models import (
        BusinessNumber,
        Contact,
        Conversation,
        Message,
        MessageTemplate,
    )

    company = Company.objects.create(
        name="Ingest", slug="ingest", billing_email="i@x.example", country="ES"
    )
    number = BusinessNumber.objects.create(
        company=company, phone_number_id="ingest-1", display_phone_number="15550000001"
    )
    template = MessageTemplate.objects.create(
        company=company, name="t", category="marketing", status="approved", body="x"
    )
    conversations = []
    for i in range(200):
        contact = Contact.objects.create(company=company, wa_id=f"3460{i:07d}")
        conversations.append(
            Conversation.objects.create(
                company=company, business_number=number, contact=contact
            )
        )
    Message.objects.bulk_create(
        [
            Message(
                company=company,
                conversation=conversations[i % 200],
                direction="out",
                type="template",
                template=template,
                template_category="marketing",
                wamid=f"wamid.B{i}",
                provider_timestamp=T0,
                status="accepted",
            )
            for i in range(messages)
        ],
        batch_size=5000,
    )
    from django.db import connections

    connections.close_all()
    return number.phone_number_id


def _body(phone_number_id: str, items: list[dict], nonce: str) -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": nonce,
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550000001",
                                    "phone_number_id": phone_number_id,
                                },
                                "statuses": items,
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def _post(session: requests.Session, body: bytes) -> float:
    import hashlib
    import hmac

    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    started = time.perf_counter()
    r = session.post(
        f"http://127.0.0.1:{PORT}/webhooks/whatsapp/",
        data=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
    return elapsed


def _fire(bodies: list[bytes], clients: int) -> tuple[list[float], float]:
    local = threading.local()

    def send(body):
        if not hasattr(local, "s"):
            local.s = requests.Session()
        return _post(local.s, body)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = list(pool.map(send, bodies))
    return latencies, time.perf_counter() - started


def _delivered(db_url: str, first: int, last: int) -> int:
    import psycopg

    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM messaging_message WHERE delivered_at IS NOT NULL "
            "AND id BETWEEN %s AND %s",
            (first, last),
        ).fetchone()[0]


def _report(label, latencies, wall, updates=None, e2e=None):
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    line = (
        f"{label:<28} {len(latencies):>6} POSTs  answer p50 {q[49] * 1000:7.1f} ms  "
        f"p99 {q[98] * 1000:7.1f} ms  {len(latencies) / wall:7.0f} POST/s"
    )
    if updates is not None:
        line += f"  {updates / e2e:7.0f} updates/s end to end"
    print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--updates", type=int, default=20_000, help="status updates per batch size"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    args = parser.parse_args()
    db_url, redis_url = _urls()
    _recreate(db_url)
    env = _env(db_url, redis_url)
    sizes = [1, 100, 1000]
    per_size = {1: min(args.updates, 3000), 100: args.updates, 1000: args.updates}
    total = sum(per_size.values())
    pnid = prepare(env, total)
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "purge", "-f"],
        cwd=ROOT,
        env=env,
        capture_output=True,
    )
    web = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            str(args.web_workers),
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=WARNING",
            f"--concurrency={args.celery_concurrency}",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{PORT}/accounts/login/", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        time.sleep(3)  # let the worker connect
        print(
            f"gunicorn {args.web_workers}×4 threads, celery concurrency "
            f"{args.celery_concurrency}, {args.clients} client threads"
        )
        # ceiling: signed POSTs with no updates (stored, nothing to process)
        empty = [_body(pnid, [], f"empty-{i}") for i in range(2000)]
        latencies, wall = _fire(empty, args.clients)
        _report("empty signed POST (ceiling)", latencies, wall)
        first = 1
        for size in sizes:
            n = per_size[size]
            last = first + n - 1
            at = int((T0 + timedelta(seconds=2)).timestamp())
            bodies = [
                _body(
                    pnid,
                    [
                        {
                            "id": f"wamid.B{m - 1}",
                            "status": "delivered",
                            "timestamp": str(at),
                            "recipient_id": "34600000000",
                        }
                        for m in range(start, min(start + size, last + 1))
                    ],
                    f"b{size}-{start}",
                )
                for start in range(first, last + 1, size)
            ]
            started = time.perf_counter()
            latencies, wall = _fire(bodies, args.clients)
            while _delivered(db_url, first, last) < n:
                time.sleep(0.05)
                if time.perf_counter() - started > 600:
                    raise SystemExit("updates not processed within 10 minutes")
            e2e = time.perf_counter() - started
            _report(f"{size:>4} updates per POST", latencies, wall, updates=n, e2e=e2e)
            first = last + 1
    finally:
        web.terminate()
        worker.terminate()
        web.wait()
        worker.wait()


if __name__ == "__main__":
    main()
