"""A real Celery worker on Redis and PostgreSQL runs the month run, triggered twice
at once: exactly one invoice per company, with the right totals (D3)."""

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.db import connection
from django.utils import timezone

from billing.models import Invoice, InvoiceLine
from billing.rules import month_of
from config.celery_app import app
from licensing.services import license_count_set, license_price_set
from tests.billing_world import World, rate_card
from tests.factories import CompanyFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    # This test process is eager; send_task goes to the broker on purpose.
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def broker_url():
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("needs Redis (set REDIS_URL)")
    # A database of its own, so nothing else shares the queue.
    return redis_url.rsplit("/", 1)[0] + "/14"


@pytest.fixture
def worker(broker_url, tmp_path):
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
        "REDIS_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    with app.connection_for_write(broker_url) as conn:
        conn.default_channel.queue_purge("celery")
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--concurrency=2",
            "--loglevel=INFO",
            "-n",
            f"test-{uuid.uuid4().hex[:8]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while "ready." not in (tmp_path / "worker.log").read_text():
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "worker did not start"
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _queue_empty(broker_url) -> bool:
    with app.connection_for_write(broker_url) as conn:
        return conn.default_channel.client.llen("celery") == 0


def test_a_real_worker_runs_the_month_twice_at_once_and_makes_one_invoice_each(
    client, broker_url, worker, settings
):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    now = timezone.now()
    month = month_of(now, UTC) - relativedelta(months=1)
    mid = datetime(month.year, month.month, 10, 12, tzinfo=UTC)
    rate_card(
        rates={("Spain", "marketing"): "0.0615"},
        effective_from=mid - timedelta(days=60),
    )
    companies = []
    with time_machine.travel(mid - timedelta(days=40), tick=False):
        for n in range(4):
            company = CompanyFactory(
                billing_timezone="Europe/Madrid" if n % 2 else "UTC"
            )
            license_price_set(
                company=company, currency="EUR", monthly_amount="10", actor=None
            )
            license_count_set(company=company, quantity=n + 1, actor=None)
            companies.append(company)
    traffic = World(client, start=mid, company=companies[0])
    for i in range(3):
        traffic.send_and_deliver("marketing", mid + timedelta(minutes=i))

    # when: the month run is triggered twice at the same time
    with app.connection_for_write(broker_url) as conn:
        for _ in range(2):
            app.send_task("billing.tasks.billing_month_run_task", connection=conn)

    # then: wait until every company has its invoice and the queue has drained
    deadline = time.monotonic() + 90
    while True:
        done = Invoice.objects.filter(company__in=companies, month=month).count()
        if done == len(companies) and _queue_empty(broker_url):
            time.sleep(2)  # let in-flight recomputes finish
            if _queue_empty(broker_url):
                break
        assert time.monotonic() < deadline, f"only {done} invoices after 90 s"
        time.sleep(0.5)
    # The companies bought their licenses a month or two before: the run catches
    # those months up too (D3); this month is the one looked at here.
    invoices = {
        i.company_id: i
        for i in Invoice.objects.filter(company__in=companies, month=month)
    }
    assert len(invoices) == len(companies)
    for n, company in enumerate(companies):
        invoice = invoices[company.pk]
        expected = Decimal(10 * (n + 1)) + (Decimal("0.18") if n == 0 else 0)
        assert (invoice.month, invoice.status, invoice.total) == (
            month,
            "draft",
            expected,
        )
        assert InvoiceLine.objects.filter(invoice=invoice, kind="license").count() == 1
    assert (
        InvoiceLine.objects.filter(invoice=invoices[companies[0].pk], kind="usage")
        .get()
        .quantity
        == 3
    )
