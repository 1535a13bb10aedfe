#!/usr/bin/env python
"""Webhook ingestion benchmark: the real /webhooks/whatsapp/ endpoint on gunicorn +
PostgreSQL + Redis + Celery workers, beside its in-run ceiling, a Django POST view
doing one durable INSERT, served by the same settings and gunicorn.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/ingest.py

Load comes from wrk (a C client: Debian package ``wrk``; else Python threads,
which cost the server CPU), for ``--seconds`` per phase, on the same machine:

1. the reference one-INSERT view (before and after the others: the better run is
   the reference), req/s and answer p50/p99;
2. empty signed webhook POSTs (stored, then processed by the workers), POST/s;
3. one status update per POST (the provider's normal traffic): POST/s, answer
   p50/p99, and updates/s end to end (from the first POST until every posted
   message's delivery is in the database, with real Celery workers);
4. with ``--sizes``, also 100 and 1000 updates per POST.

Then the ratios against the reference and the goals (issue #15). Each phase
prints the machine's load average and CPU use during it (other work shares the
machine). The database (``--database``, default ``wa_bench_ingest``) is
recreated; the Redis database of REDIS_URL is the broker and cache.
"""

import argparse
import hashlib
import hmac
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-app-secret"
T0 = datetime(2026, 10, 5, 9, tzinfo=UTC)
BIN = Path(sys.executable).parent
REFERENCE_TABLE = "bench_reference_insert"


def _urls(database: str) -> tuple[str, str]:
    db = urlparse(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    )
    if not db.scheme.startswith("postgres"):
        sys.exit("bench/ingest.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9")
    return urlunparse(db._replace(path="/" + database)), redis


def _recreate(url: str) -> None:
    import psycopg

    name = urlparse(url).path.lstrip("/")
    admin = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def _env(db_url: str, redis_url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "bench.ingest_settings",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_LOG_LEVEL": "WARNING",
        "WHATSAPP_APP_SECRET": SECRET,
        "WHATSAPP_SANDBOX_EMIT_STATUSES": "false",
        "PYTHONPATH": str(ROOT),
    }


def prepare(env: dict, messages: int) -> str:
    """One company, one number, 200 contacts, ``messages`` accepted templates,
    and the reference view's table."""
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
    from messaging.services import deliveries_wake_reset

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
    from django.db import connection, connections

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {REFERENCE_TABLE} (id bigserial PRIMARY KEY, "
            "received_at timestamptz NOT NULL DEFAULT now(), body text NOT NULL)"
        )
        cursor.execute("VACUUM ANALYZE")
    deliveries_wake_reset()
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


def _status(m: int) -> dict:
    at = int((T0 + timedelta(seconds=2 + m % 600)).timestamp())
    return {
        "id": f"wamid.B{m}",
        "status": "delivered",
        "timestamp": str(at),
        "recipient_id": "34600000000",
    }


def _sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


class Machine:
    """Load average and CPU busy share of the whole machine over a phase."""

    def __init__(self):
        self.load0 = os.getloadavg()[0]
        self.cpu0 = self._cpu()

    @staticmethod
    def _cpu() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split()[1:9]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    def __str__(self) -> str:
        busy0, total0 = self.cpu0
        busy1, total1 = self._cpu()
        share = (busy1 - busy0) / max(1, total1 - total0)
        return (
            f"load {self.load0:.2f}→{os.getloadavg()[0]:.2f}, "
            f"CPU {share:.0%} of {os.cpu_count()} cores"
        )


WRK_SCRIPT = """
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  reqs = {}
  for line in io.lines(args[1] .. "." .. tid) do
    local tab = line:find("\\t")
    reqs[#reqs + 1] = wrk.format("POST", nil, {
      ["Content-Type"] = "application/json",
      ["X-Hub-Signature-256"] = line:sub(1, tab - 1),
    }, line:sub(tab + 1))
  end
  sent = 0
end
function request()
  sent = sent + 1
  return reqs[sent] or reqs[#reqs]
end
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "p50_ms": %.2f, '
    .. '"p99_ms": %.2f, "max_ms": %.2f}\\n',
    summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


class Load:
    """POST the given bodies for ``seconds`` from ``clients`` connections; each
    body at most once while it lasts (then the last one is repeated, a
    duplicate: the pool is sized so that this does not happen)."""

    def __init__(self, port: int, clients: int, seconds: float, python: bool):
        self.port, self.clients, self.seconds = port, clients, seconds
        self.wrk = shutil.which("wrk") and not python
        self.threads = 2 if self.wrk else clients
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
        (self.tmp / "post.lua").write_text(WRK_SCRIPT)

    def stage(self, bodies: list[bytes]) -> None:
        """Make the requests ready (signed, written for wrk) before any clock."""
        self.bodies = bodies
        if self.wrk:
            for t in range(self.threads):
                with open(f"{self.tmp / 'bodies'}.{t}", "w") as f:
                    for body in bodies[t :: self.threads]:
                        f.write(_sign(body) + "\t" + body.decode() + "\n")

    def run(self, path: str, bodies: list[bytes] | None = None) -> dict:
        if bodies is not None:
            self.stage(bodies)
        if self.wrk:
            return self._wrk(path)
        return self._python(path, self.bodies)

    def _wrk(self, path: str) -> dict:
        data = self.tmp / "bodies"
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(self.threads),
                "-c",
                str(self.clients),
                "-d",
                f"{int(self.seconds)}s",
                "--timeout",
                "10s",
                "-s",
                str(self.tmp / "post.lua"),
                f"http://127.0.0.1:{self.port}{path}",
                "--",
                str(data),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        figures["rate"] = figures["requests"] / (figures["duration_us"] / 1e6)
        return figures

    def _python(self, path: str, bodies: list[bytes]) -> dict:
        url = f"http://127.0.0.1:{self.port}{path}"
        local = threading.local()
        pool = iter(bodies)
        lock = threading.Lock()
        latencies: list[float] = []
        errors = [0]
        stop = time.perf_counter() + self.seconds

        def client():
            local.s = requests.Session()
            while time.perf_counter() < stop:
                with lock:
                    body = next(pool, None)
                if body is None:
                    return
                started = time.perf_counter()
                r = local.s.post(
                    url,
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Hub-Signature-256": _sign(body),
                    },
                )
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    errors[0] += r.status_code != 200

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.clients) as pool_:
            for _ in range(self.clients):
                pool_.submit(client)
        wall = time.perf_counter() - started
        q = statistics.quantiles(latencies, n=100)
        return {
            "requests": len(latencies),
            "duration_us": wall * 1e6,
            "errors": errors[0],
            "p50_ms": q[49] * 1000,
            "p99_ms": q[98] * 1000,
            "max_ms": max(latencies) * 1000,
            "rate": len(latencies) / wall,
        }


def _scalar(db_url: str, sql: str, params=()) -> int:
    import psycopg

    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def _pending(db_url: str) -> int:
    return _scalar(
        db_url,
        "SELECT count(*) FROM messaging_webhookdelivery WHERE status = 'received'",
    )


def _wait_processed(db_url: str, started: float, timeout: float = 600) -> float:
    """Wait until no delivery is left received; returns when, on the clock."""
    while _scalar(
        db_url,
        "SELECT count(*) FROM messaging_webhookdelivery WHERE status = 'received'",
    ):
        if time.perf_counter() - started > timeout:
            raise SystemExit("deliveries not processed within 10 minutes")
        time.sleep(0.02)
    return time.perf_counter()


def _line(label: str, figures: dict, machine: Machine, extra: str = "") -> None:
    print(
        f"{label:<34} {figures['rate']:7.0f} req/s  answer p50 "
        f"{figures['p50_ms']:6.1f} ms  p99 {figures['p99_ms']:6.1f} ms  "
        f"({figures['requests']} requests, {figures['errors']} errors){extra}  "
        f"[{machine}]",
        flush=True,
    )


def _e2e(db_url, load, bodies, size, ids) -> tuple[dict, float, float, Machine]:
    """POST ``bodies`` for a phase; returns the answers' figures, the updates/s
    end to end and how long after the last POST the last one was processed."""
    stored_before = _scalar(db_url, "SELECT count(*) FROM messaging_webhookdelivery")
    load.stage(bodies)
    machine = Machine()
    started = time.perf_counter()
    figures = load.run("/webhooks/whatsapp/")
    done = _wait_processed(db_url, started)
    time.sleep(0.5)  # answers in flight when the load stopped: stored, processed
    done = max(done, _wait_processed(db_url, started) if _pending(db_url) else 0)
    posted = (
        _scalar(db_url, "SELECT count(*) FROM messaging_webhookdelivery")
        - stored_before
    )
    updates = posted * size
    delivered = _scalar(
        db_url,
        "SELECT count(*) FROM messaging_message WHERE delivered_at IS NOT NULL "
        "AND wamid = ANY(%s)",
        ([f"wamid.B{m}" for m in range(ids[0], ids[1] + 1)],),
    )
    if delivered != updates:
        raise SystemExit(f"{delivered} messages delivered, {updates} posted")
    if posted >= len(bodies):
        print("  (the body pool ran out: raise --max-rate)")
    tail = done - started - figures["duration_us"] / 1e6
    return figures, updates / (done - started), tail, machine


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="per phase")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of (reference, empty, one status); the ratios are the "
        "medians of each round against the references around it",
    )
    parser.add_argument("--clients", type=int, default=16, help="connections")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument("--database", default="wa_bench_ingest")
    parser.add_argument(
        "--max-rate",
        type=int,
        default=3000,
        help="POST/s the body pools are sized for (one message per status)",
    )
    parser.add_argument(
        "--sizes",
        default="",
        help="also measure these updates per POST end to end once, e.g. 100,1000",
    )
    parser.add_argument(
        "--python-client", action="store_true", help="Python threads, not wrk"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    db_url, redis_url = _urls(args.database)
    _recreate(db_url)
    env = _env(db_url, redis_url)
    pool = int(args.max_rate * args.seconds)
    big = {size: max(20, 20_000 // size) for size in sizes}  # 20,000 updates
    messages = args.rounds * pool + sum(n * s for s, n in big.items())
    pnid = prepare(env, messages)
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "purge", "-f"],
        cwd=ROOT,
        env=env,
        capture_output=True,
    )
    web = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.web_workers),
            "--threads",
            str(args.web_threads),
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
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,  # the banner
    )
    load = Load(args.port, args.clients, args.seconds, args.python_client)
    try:
        for _ in range(100):
            try:
                requests.get(
                    f"http://127.0.0.1:{args.port}/webhooks/whatsapp/", timeout=1
                )
                break
            except requests.RequestException:
                time.sleep(0.2)
        time.sleep(3)  # let the worker connect
        print(
            f"gunicorn {args.web_workers}×{args.web_threads} threads (gthread), "
            f"celery prefork concurrency {args.celery_concurrency}, "
            f"{'wrk 2 threads' if load.wrk else 'Python threads'}, "
            f"{args.clients} connections, {args.seconds:g} s per phase, "
            f"{args.rounds} rounds, {os.cpu_count()} cores",
            flush=True,
        )
        # warm-up: every gunicorn thread connected, both paths imported
        warm = Load(args.port, args.clients, 2, args.python_client)
        warm.run("/bench/insert/", [b"{}"] * 20000)
        warm.run(
            "/webhooks/whatsapp/",
            [_body(pnid, [], f"warm-{i}") for i in range(20000)],
        )
        _wait_processed(db_url, time.perf_counter())

        def reference(r: int) -> dict:
            bodies = [_body(pnid, [_status(m)], f"ref{r}-{m}") for m in range(pool)]
            load.stage(bodies)
            machine = Machine()
            figures = load.run("/bench/insert/")
            _line(f"reference: one-INSERT view ({r + 1})", figures, machine)
            return figures

        refs = [reference(0)]
        rounds = []
        for r in range(args.rounds):
            empty_bodies = [_body(pnid, [], f"empty{r}-{i}") for i in range(pool)]
            load.stage(empty_bodies)
            machine = Machine()
            empty = load.run("/webhooks/whatsapp/")
            _line("empty signed webhook POST", empty, machine)
            _wait_processed(db_url, time.perf_counter())
            ids = (r * pool, (r + 1) * pool - 1)
            bodies = [
                _body(pnid, [_status(m)], f"one-{m}") for m in range(ids[0], ids[1] + 1)
            ]
            figures, rate, tail, machine = _e2e(db_url, load, bodies, 1, ids)
            _line(
                "1 status per POST",
                figures,
                machine,
                f"  {rate:6.0f} updates/s end to end (last processed "
                f"{tail:.1f} s after the last POST)",
            )
            refs.append(reference(r + 1))
            around = (refs[r]["rate"] + refs[r + 1]["rate"]) / 2
            rounds.append((empty["rate"] / around, rate / around, figures["p99_ms"]))
            print(
                f"  round {r + 1}: reference {around:.0f} req/s (mean of the two "
                f"around it); empty POST {rounds[-1][0]:.1%}, one status end to "
                f"end {rounds[-1][1]:.1%} of it",
                flush=True,
            )
        start = args.rounds * pool
        for size in sizes:
            n = big[size]
            ids = (start, start + n * size - 1)
            bodies = [
                _body(pnid, [_status(m) for m in range(b, b + size)], f"b{size}-{b}")
                for b in range(start, start + n * size, size)
            ]
            figures, rate, tail, machine = _e2e(db_url, load, bodies, size, ids)
            _line(
                f"{size} statuses per POST",
                figures,
                machine,
                f"  {rate:6.0f} updates/s end to end (last processed "
                f"{tail:.1f} s after the last POST)",
            )
            start = ids[1] + 1

        empty_ratio = statistics.median(e for e, _, _ in rounds)
        e2e_ratio = statistics.median(e for _, e, _ in rounds)
        p99 = max(p for _, _, p in rounds)
        print(
            f"\nreference: {statistics.median(r['rate'] for r in refs):.0f} req/s "
            f"(median of {len(refs)} runs: "
            + ", ".join(f"{r['rate']:.0f}" for r in refs)
            + ")"
        )
        print(
            f"empty signed webhook POST: {empty_ratio:6.1%} of the reference "
            "(median of the rounds; goal ≥ 70 %)"
        )
        print(
            f"one status per POST, end to end: {e2e_ratio:6.1%} of the reference "
            f"(goal ≥ 50 %), answer p99 ≤ {p99:.0f} ms in every round "
            "(goal < 250 ms)"
        )
    finally:
        web.terminate()
        worker.terminate()
        web.wait()
        worker.wait()


if __name__ == "__main__":
    main()
