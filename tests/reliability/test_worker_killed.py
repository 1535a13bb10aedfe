"""A real Celery worker is killed with SIGKILL (main process and pool children)
in the middle of the month run; a fresh worker and a second trigger finish it.
Exactly one invoice per company and month, one set of lines each, totals equal
to an undisturbed computation (D3)."""

import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.db import connection
from django.utils import timezone

from billing.models import Charge, Invoice, InvoiceLine
from billing.rules import month_of, previous_month
from billing.services import invoice_compute, invoice_preview
from config.celery_app import app
from licensing.services import license_count_set
from messaging.models import Message
from tests.reliability.population import (
    Shape,
    delivered_outbound_create,
    inbound_create,
    invoice_summary,
    rates_seed,
    traffic,
    world_build,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    # This test process is eager; send_task goes to the broker on purpose.
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]

ROOT = Path(__file__).resolve().parents[2]
COMPANIES = 40
# Billed in UTC: the month run picks each company's last month in its own zone,
# and the month under test is the last one in UTC (brief: relative to the clock).
SHAPE = Shape(companies=COMPANIES, numbers=1, contacts=20, time_zones=("UTC",))
OUTBOUND_PER_CONVERSATION = 30  # 600 delivered templates per company
INBOUND_PER_CONVERSATION = 8
# Redis keys of kombu's Redis transport for the default queue.
QUEUE, UNACKED, UNACKED_INDEX = "celery", "unacked", "unacked_index"


@pytest.fixture
def broker_url():
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("needs Redis (set REDIS_URL)")
    # A Redis database of its own (the worker test uses 14, bench/ingest.py 13).
    return redis_url.rsplit("/", 1)[0] + "/12"


@pytest.fixture
def redis(broker_url):
    with app.connection_for_write(broker_url) as conn:
        client = conn.default_channel.client
        client.delete(QUEUE, UNACKED, UNACKED_INDEX)
        yield client
        client.delete(QUEUE, UNACKED, UNACKED_INDEX)


class Workers:
    """Start real workers, each in a process group of its own; stop them at the end."""

    def __init__(self, broker_url: str, tmp_path: Path):
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
            "REDIS_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            # Billing runs alone: no month so far synced on their commits.
            "BILLING_USAGE_SYNC_ON_CHANGE": "false",
        }
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str) -> tuple[subprocess.Popen, Path]:
        path = self.tmp_path / f"{name}.log"
        log = path.open("w")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--concurrency=1",
                "--pool=prefork",
                "--loglevel=INFO",
                "-n",
                f"{name}-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: main + pool children
        )
        log.close()
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        while "ready." not in path.read_text():
            assert proc.poll() is None, path.read_text()
            assert time.monotonic() < deadline, "worker did not start"
            time.sleep(0.1)
        return proc, path

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


@pytest.fixture
def workers(broker_url, tmp_path):
    pool = Workers(broker_url, tmp_path)
    yield pool
    pool.stop_all()


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields: state, ppid, pgrp, ...; zombies are already dead
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return sorted(members)


def _worker_sessions() -> list[tuple[str, str]]:
    """(state, query) of the other client sessions of the test database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT state, left(query, 40) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        return cursor.fetchall()


def _succeeded(log: Path) -> int:
    return len(re.findall(r"Task billing\.tasks\.\S+ succeeded", log.read_text()))


def _populate(month):
    """40 companies with licenses (some changed mid-month), prices, a rate card and
    a month of delivered templates and inbound messages."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    rates_seed(effective_from=start - relativedelta(months=3))
    world = world_build(SHAPE, tag="K", month=month, phone_base=730_000_000)
    outbound, events = traffic(
        SHAPE,
        month=month,
        outbound_per_conversation=OUTBOUND_PER_CONVERSATION,
        inbound_per_conversation=INBOUND_PER_CONVERSATION,
        seed=41,
    )
    delivered = delivered_outbound_create(world, outbound, rng=random.Random(5))
    inbound_create(world, events)
    with time_machine.travel(start.replace(day=12, hour=10), tick=False):
        for ci, company in enumerate(world.companies):
            if ci % 3 == 0:
                license_count_set(company=company, quantity=10 + ci % 7, actor=None)
    # The month before (licenses were bought then) was billed by its own run, so
    # the month run has exactly this month left to do (D3 catches up the others).
    with time_machine.travel(start + relativedelta(days=1), tick=False):
        for company in world.companies:
            invoice_compute(company=company, month=month - relativedelta(months=1))
    # What autovacuum does after a bulk load (it is off on the test machine).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return world, delivered


@pytest.fixture(autouse=True)
def _month_so_far_not_synced(settings):
    """The deliveries populated here leave no unbilled charge of the month so far:
    what these tests count is what the billing runs wrote."""
    settings.BILLING_USAGE_SYNC_ON_CHANGE = False


def test_a_worker_killed_mid_run_then_a_fresh_worker_and_a_second_trigger_bill_once(
    broker_url, redis, workers
):
    month = month_of(timezone.now(), UTC) - relativedelta(months=1)
    started = time.perf_counter()
    world, delivered = _populate(month)
    setup_s = time.perf_counter() - started
    companies = world.companies
    for company in companies:
        assert previous_month(timezone.now(), company.zone) == month

    # Expected: each company's invoice computed undisturbed, in this process, before
    # any worker runs. invoice_preview runs the very invoice_compute the worker
    # runs and rolls it back, so it leaves no invoice or charge behind and sees
    # the same facts (nothing changes them during the test); comparing with it
    # tests that the kill, the redelivery and the re-run changed nothing.
    started = time.perf_counter()
    expected = {}
    for company in companies:
        preview = invoice_preview(company=company, month=month, collect=invoice_summary)
        expected[company.pk] = preview.extra
    preview_s = time.perf_counter() - started
    assert not Invoice.objects.filter(month=month).exists()
    assert not Charge.objects.exists()

    # A worker with one process computes the companies one after the other.
    first, first_log = workers.start("doomed")
    children = [pid for pid in _group_members(first.pid) if pid != first.pid]
    assert children, "the prefork pool has a child process"
    run_started = time.monotonic()
    with app.connection_for_write(broker_url) as conn:
        app.send_task("billing.tasks.billing_month_run_task", connection=conn)

    # Kill it once some but not all invoices exist.
    threshold = COMPANIES // 4
    deadline = time.monotonic() + 90
    while Invoice.objects.filter(month=month).count() < threshold:
        assert time.monotonic() < deadline, first_log.read_text()[-3000:]
        time.sleep(0.02)
    # ... while it is inside the next company's computation (its session busy).
    while not any(
        state in ("active", "idle in transaction") for state, _ in _worker_sessions()
    ):
        assert time.monotonic() < deadline, first_log.read_text()[-3000:]
        time.sleep(0.005)
    sessions = _worker_sessions()
    os.killpg(first.pid, signal.SIGKILL)
    killed_after = time.monotonic() - run_started
    first.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _group_members(first.pid):
        assert time.monotonic() < deadline, "pool children survived the SIGKILL"
        time.sleep(0.05)

    # PostgreSQL sees the client gone and rolls its transaction back.
    deadline = time.monotonic() + 30
    while _worker_sessions():
        assert time.monotonic() < deadline, _worker_sessions()
        time.sleep(0.05)
    sessions_gone_s = time.monotonic() - run_started - killed_after
    at_kill = Invoice.objects.filter(month=month).count()
    queued, unacked = redis.llen(QUEUE), redis.hlen(UNACKED)
    assert 0 < at_kill < COMPANIES
    # The task that was running is neither done nor lost: it waits, unacknowledged.
    assert unacked >= 1
    # Nothing lost: every company is committed, queued or in flight (a task that
    # committed but was not acknowledged yet is both, hence the + 1).
    assert COMPANIES <= queued + unacked + at_kill <= COMPANIES + 1
    # Atomic: whatever the killed worker committed is complete and right.
    for invoice in Invoice.objects.filter(month=month):
        assert invoice_summary(invoice) == expected[invoice.company_id]

    # Redis gives the unacked message back only after the visibility timeout (1 h).
    # Let that hour pass for the broker (age the unacked index) so the fresh worker
    # redelivers the killed task, and trigger the month run again at once too.
    for tag, score in redis.zrange(UNACKED_INDEX, 0, -1, withscores=True):
        redis.zadd(UNACKED_INDEX, {tag: score - 3600 - 60})
    second, second_log = workers.start("fresh")
    recovery_started = time.monotonic()
    with app.connection_for_write(broker_url) as conn:
        app.send_task("billing.tasks.billing_month_run_task", connection=conn)

    # Drained: every task the fresh worker had to run succeeded, nothing is left.
    # The second trigger enqueues the company months still without an invoice
    # when it runs (D3), as its log line says.
    def expected_tasks() -> int:
        enqueued = re.findall(
            r"Billing run: (\d+) company months enqueued", second_log.read_text()
        )
        if not enqueued:
            return unacked + queued + 1 + COMPANIES  # not run yet: keep waiting
        return unacked + queued + 1 + int(enqueued[-1])

    deadline = time.monotonic() + 120
    while not (
        _succeeded(second_log) >= expected_tasks()
        and redis.llen(QUEUE) == 0
        and redis.hlen(UNACKED) == 0
    ):
        assert second.poll() is None, second_log.read_text()[-3000:]
        assert time.monotonic() < deadline, (
            f"{_succeeded(second_log)}/{expected_tasks()} tasks after 120 s\n"
            + second_log.read_text()[-3000:]
        )
        time.sleep(0.1)
    recovery_s = time.monotonic() - recovery_started
    log_text = second_log.read_text()
    computes = len(
        re.findall(
            r"Task billing\.tasks\.invoice_compute_task\[\S+\] succeeded", log_text
        )
    )
    errors = [line for line in log_text.splitlines() if " ERROR" in line]
    assert not errors, "\n".join(errors[:5])

    # Exactly one invoice per company and month, each with one set of lines, and
    # the totals of the undisturbed computation.
    invoices = list(Invoice.objects.filter(month=month))
    assert sorted(i.company_id for i in invoices) == sorted(c.pk for c in companies)
    assert Invoice.objects.filter(month=month).count() == COMPANIES
    for invoice in invoices:
        lines = list(InvoiceLine.objects.filter(invoice=invoice).order_by("position"))
        assert [line.position for line in lines] == list(range(len(lines)))
        keys = [
            (line.kind, line.category, line.market_id, line.unit_price)
            for line in lines
        ]
        assert len(keys) == len(set(keys)), f"duplicate lines on {invoice}"
        assert invoice_summary(invoice) == expected[invoice.company_id]
    # One charge per delivered template, each on its company's invoice.
    assert Charge.objects.count() == delivered
    assert Charge.objects.filter(invoice__isnull=True).count() == 0
    assert (
        Charge.objects.values("message_id").distinct().count()
        == Message.objects.filter(delivered_at__isnull=False).count()
    )
    # Recomputing once more (rolled back) changes nothing either.
    for company in companies[:5]:
        assert (
            invoice_preview(company=company, month=month, collect=invoice_summary).extra
            == expected[company.pk]
        )

    per_company = preview_s / COMPANIES
    print(
        f"\n[worker-killed] {COMPANIES} companies, {delivered} delivered templates, "
        f"{Message.objects.filter(direction='in').count()} inbound messages, "
        f"month {month:%Y-%m}; setup {setup_s:.1f} s"
        f"\n[worker-killed] undisturbed computation in-process: {preview_s:.1f} s "
        f"({per_company * 1000:.0f} ms per company)"
        f"\n[worker-killed] SIGKILL to process group {first.pid} (main + "
        f"{len(children)} pool child) {killed_after:.2f} s after the trigger: "
        f"{at_kill}/{COMPANIES} invoices committed, {queued} tasks queued, "
        f"{unacked} unacknowledged (in flight); the worker's database session was "
        f"{sessions} and was gone {sessions_gone_s:.2f} s after the kill"
        f"\n[worker-killed] fresh worker + second trigger: {expected_tasks()} tasks "
        f"({unacked} redelivered, {queued} left over, 1 month run and the months "
        f"still without an invoice) drained in {recovery_s:.1f} s; "
        f"{computes} invoice computations"
        f"\n[worker-killed] result: {len(invoices)} invoices, "
        f"{InvoiceLine.objects.count()} lines, {Charge.objects.count()} charges; "
        f"all equal to the undisturbed computation"
    )
