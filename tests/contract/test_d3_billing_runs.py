"""D3 billing runs: a scheduled run after each month ends bills every company's
month, and a run that did not happen (beat down, a missed window) is caught up
by the next one: every ended month without an invoice, from the company's start
of billing (its first license history row or delivered message, never before it
was created). Spend alerts of the month in progress are not disturbed by it."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from billing.models import Charge, Invoice, SpendAlert
from billing.services import budget_set, invoice_preview
from billing.tasks import (
    billing_month_run_task,
    invoices_finalize_due_task,
    spend_alerts_run_task,
)
from tests import whatsapp
from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory, CompanyFactory

pytestmark = pytest.mark.django_db

AUG, SEP, OCT, NOV = (date(2026, m, 1) for m in (8, 9, 10, 11))
NOV_15 = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)
D = Decimal


def _world(client, *, created: datetime = datetime(2026, 9, 3, tzinfo=UTC)) -> World:
    """A company created in September; one marketing template to Spain is 1 EUR."""
    rate_card(
        rates={("Spain", "marketing"): "1.0000"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    with time_machine.travel(created, tick=False):
        company = CompanyFactory(slug="acme")
    world = World(client, start=datetime(2026, 9, 10, tzinfo=UTC), company=company)
    world.send_and_deliver("marketing", datetime(2026, 9, 10, 12, tzinfo=UTC))
    world.send_and_deliver("marketing", datetime(2026, 10, 10, 12, tzinfo=UTC))
    world.send_and_deliver("marketing", datetime(2026, 10, 11, 12, tzinfo=UTC))
    return world


def _beat(task, at: datetime):
    with time_machine.travel(at, tick=False), whatsapp.on_commit():
        return task.delay().get()


def _months(company) -> list[date]:
    return list(
        Invoice.objects.filter(company=company)
        .order_by("month")
        .values_list("month", flat=True)
    )


def test_d3_billing_runs_the_beat_runs_every_hour_every_day():
    schedule = settings.CELERY_BEAT_SCHEDULE["compute-monthly-invoices"]["schedule"]
    assert schedule.day_of_month == set(range(1, 32))
    assert schedule.hour == set(range(24))
    assert schedule.minute == {15}


def test_d3_billing_runs_a_missed_run_is_caught_up_every_ended_month_once(client):
    # given activity in September and October; the beat never ran in early
    # October nor in early November
    world = _world(client)
    # when the scheduled run happens on 15 November
    enqueued = _beat(billing_month_run_task, NOV_15)
    # then September and October get their drafts (November has not ended), and
    # nothing before the company existed
    assert enqueued == 2
    assert _months(world.company) == [SEP, OCT]
    sep, oct_ = Invoice.objects.filter(company=world.company).order_by("month")
    assert (sep.status, sep.total) == ("draft", D("1.00"))
    assert (oct_.status, oct_.total) == ("draft", D("2.00"))
    assert Charge.objects.filter(invoice=sep).count() == 1
    assert Charge.objects.filter(invoice=oct_).count() == 2
    # and running it again (later the same day, and the next day) creates nothing
    assert _beat(billing_month_run_task, NOV_15 + timedelta(hours=1)) == 0
    assert _beat(billing_month_run_task, NOV_15 + timedelta(days=1)) == 0
    assert _months(world.company) == [SEP, OCT]
    assert Charge.objects.filter(invoice__isnull=True).count() == 0


def test_d3_billing_runs_a_company_without_activity_is_billed_from_its_creation(
    client,
):
    with time_machine.travel(datetime(2026, 8, 20, tzinfo=UTC), tick=False):
        quiet = CompanyFactory(slug="quiet")
    _beat(billing_month_run_task, NOV_15)
    assert _months(quiet) == [AUG, SEP, OCT]
    assert {i.total for i in Invoice.objects.filter(company=quiet)} == {D("0")}


def test_d3_billing_runs_nothing_due_costs_two_queries_whatever_the_companies(
    client, django_assert_num_queries
):
    # given every ended month of several companies already invoiced
    _world(client)
    for slug in ("b", "c", "d"):
        with time_machine.travel(datetime(2026, 9, 20, tzinfo=UTC), tick=False):
            CompanyFactory(slug=slug)
    assert _beat(billing_month_run_task, NOV_15) == 8
    # when the hourly run comes again
    with django_assert_num_queries(2):
        enqueued = _beat(billing_month_run_task, NOV_15 + timedelta(hours=1))
    # then it enqueues nothing
    assert enqueued == 0


def test_d3_billing_runs_catching_up_leaves_the_spend_alerts_of_the_month_alone(
    client,
):
    # given a 10 EUR budget and September and October never billed
    world = _world(client)
    admin = CompanyAdminFactory(company=world.company)
    budget_set(company=world.company, amount=D("10"), actor=None)
    # November traffic reaches 50 % before the missed months are caught up: the
    # alert is not held back by the missing runs
    for i in range(5):
        world.send_and_deliver("marketing", NOV_15 - timedelta(hours=2, minutes=i))
    _beat(spend_alerts_run_task, NOV_15 - timedelta(minutes=30))
    assert list(SpendAlert.objects.values_list("month", "threshold")) == [(NOV, 50)]
    # when the run catches September and October up, and they are finalized
    _beat(billing_month_run_task, NOV_15)
    _beat(invoices_finalize_due_task, NOV_15 + timedelta(minutes=5))
    assert set(
        Invoice.objects.filter(company=world.company).values_list("month", "status")
    ) == {(SEP, "finalized"), (OCT, "finalized")}
    # then the month so far is still November's own 5 EUR, and no alert is sent
    # for the caught-up months or again for November
    with time_machine.travel(NOV_15 + timedelta(minutes=10), tick=False):
        preview = invoice_preview(company=world.company, month=NOV)
    assert preview.invoice.total == D("5.00")
    _beat(spend_alerts_run_task, NOV_15 + timedelta(minutes=30))
    assert list(SpendAlert.objects.values_list("month", "threshold")) == [(NOV, 50)]
    # and November's next threshold still alerts
    for i in range(3):
        world.send_and_deliver("marketing", NOV_15 + timedelta(hours=1, minutes=i))
    _beat(spend_alerts_run_task, NOV_15 + timedelta(hours=2))
    assert sorted(SpendAlert.objects.values_list("month", "threshold")) == [
        (NOV, 50),
        (NOV, 80),
    ]
    alerts = [m for m in mail.outbox if admin.email in m.to and not m.attachments]
    assert len(alerts) == 2  # the invoices' own emails carry their PDF
