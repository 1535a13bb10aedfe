#!/usr/bin/env python
"""Portal benchmark: the invoice detail page under 16 concurrent clients, served
by gunicorn on PostgreSQL, for an invoice with about 1,000,000 charged messages.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/portal.py
    ... bench/portal.py --messages 300000 --requests 800     # quicker

It builds its own database (``wa_billing_bench``, dropped first) with one company
whose October invoice carries the charged messages, starts gunicorn on
127.0.0.1:8765, logs in as the company admin and fires ``--requests`` GETs from
``--clients`` threads. Prints latency percentiles and requests per second.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _load_bench_billing():
    """bench/billing.py by path: its module name would shadow the billing app."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_billing", ROOT / "bench" / "billing.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_billing = _load_bench_billing()

PORT = 8765
PASSWORD = "bench-pass-2026"


def prepare(messages: int) -> tuple[int, str, int]:
    url = bench_billing._bench_url()
    bench_billing._recreate_database(url)
    bench_billing._setup(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    print(f"Generating one company with {messages:,} messages")
    bench_billing._timed("generate", bench_billing.generate, 1, messages)
    from accounts.models import Company, User
    from billing.services import invoice_compute, invoice_finalize

    company = Company.objects.get()
    invoice, _ = bench_billing._timed(
        "invoice_compute",
        lambda: invoice_compute(company=company, month=bench_billing.MONTH),
    )
    # Customers mostly open finalized invoices (drafts live for the grace days).
    invoice, _ = bench_billing._timed(
        "invoice_finalize", lambda: invoice_finalize(invoice=invoice)
    )
    charged = invoice.charges.filter(billable=True).count()
    User.objects.create_user(
        email="admin@bench.example",
        password=PASSWORD,
        company=company,
        role="company_admin",
    )
    print(
        f"invoice {invoice.pk}: {charged:,} charged messages, total {invoice.total} EUR"
    )
    return invoice.pk, url, charged


def serve(url: str, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        # base settings: production's, minus HTTPS-only cookies (plain HTTP here).
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnop",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            str(workers),
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
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{PORT}/accounts/login/", timeout=1)
            return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    sys.exit("gunicorn did not start")


def session() -> requests.Session:
    s = requests.Session()
    base = f"http://127.0.0.1:{PORT}"
    s.get(f"{base}/accounts/login/")
    token = s.cookies.get("csrftoken")
    r = s.post(
        f"{base}/accounts/login/",
        data={
            "username": "admin@bench.example",
            "password": PASSWORD,
            "csrfmiddlewaretoken": token,
        },
        headers={"Referer": f"{base}/accounts/login/"},
        allow_redirects=False,
    )
    if r.status_code != 302:
        sys.exit(f"login failed: {r.status_code}")
    return s


WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("wrk: %d requests, %d errors, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def load_wrk(invoice_id: int, clients: int, seconds: int) -> None:
    """Load from wrk (C, a second process): the client costs the server no CPU."""
    import tempfile

    cookie = "; ".join(f"{k}={v}" for k, v in session().cookies.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    url = f"http://127.0.0.1:{PORT}/billing/invoices/{invoice_id}/"
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(clients),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            script.name,
            "-H",
            f"Cookie: {cookie}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(out)


def load(invoice_id: int, clients: int, total: int) -> list[float]:
    url = f"http://127.0.0.1:{PORT}/billing/invoices/{invoice_id}/"
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def client():
        s = session()
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            started = time.perf_counter()
            r = s.get(url)
            elapsed = time.perf_counter() - started
            if r.status_code != 200:
                raise SystemExit(f"status {r.status_code}")
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    print(
        f"{len(latencies)} requests in {wall:.1f} s: {len(latencies) / wall:.0f} req/s"
    )
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--messages",
        type=int,
        default=3_200_000,
        help="messages of the month; about 1/3 are templates, most charged",
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn processes")
    parser.add_argument("--seconds", type=int, default=30, help="wrk duration")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the generated database"
    )
    parser.add_argument(
        "--python-client",
        action="store_true",
        help="load from Python threads even when wrk is installed",
    )
    args = parser.parse_args()
    if args.reuse:
        url = bench_billing._bench_url()
        bench_billing._setup(url)
        from billing.models import Invoice

        invoice = Invoice.objects.get()
        invoice_id, charged = invoice.pk, invoice.charges.filter(billable=True).count()
    else:
        invoice_id, url, charged = prepare(args.messages)
    from django.db import connections

    connections.close_all()
    proc = serve(url, args.workers)
    try:
        load(invoice_id, args.clients, 100)  # warm up
        if shutil.which("wrk") and not args.python_client:
            print(
                f"invoice detail, {charged:,} charged messages, {args.clients} connections "
                f"(wrk), gunicorn {args.workers}×4 threads"
            )
            load_wrk(invoice_id, args.clients, args.seconds)
            return
        latencies = sorted(load(invoice_id, args.clients, args.requests))
    finally:
        proc.terminate()
        proc.wait()
    q = statistics.quantiles(latencies, n=100)
    print(
        f"invoice detail, {charged:,} charged messages, {args.clients} clients, "
        f"gunicorn {args.workers}×4 threads"
    )
    print(
        f"p50 {q[49] * 1000:.1f} ms   p95 {q[94] * 1000:.1f} ms   p99 {q[98] * 1000:.1f} ms   "
        f"max {latencies[-1] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
