"""F5 spend alerts, as the feature states them.

Company admins set a monthly budget in the company's billing currency (empty: no
alerts). When the month so far (the usage page's estimated total, in the
company's billing time zone) reaches 50 %, 80 % and 100 % of it, every company
admin gets an email, once per threshold and month, whatever runs overlap.
Delivery is at most once: a failed email is logged and kept, never re-sent.
"""

import smtplib
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.urls import reverse

from billing.models import MonthlyBudget, SpendAlert
from billing.rules.alerts import THRESHOLDS, thresholds_crossed
from billing.services import budget_set, spend_alerts_check
from billing.tasks import spend_alerts_run_task
from tests import whatsapp
from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)
NOV = date(2026, 11, 1)
D = Decimal


def _world(client, **kw) -> World:
    """One marketing template to Spain costs exactly 1 EUR; licenses free, no tax."""
    rate_card(
        rates={("Spain", "marketing"): "1.0000"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world = World(client, start=T, **kw)
    world.admin = CompanyAdminFactory(company=world.company)
    return world


def _spend(world, euros: int, at: datetime) -> None:
    for i in range(euros):
        world.send_and_deliver("marketing", at + timedelta(minutes=i))


def _beat(at: datetime) -> None:
    with time_machine.travel(at, tick=False), whatsapp.on_commit():
        spend_alerts_run_task.delay()


def _alerts(world, month=OCT) -> list[int]:
    return sorted(
        SpendAlert.objects.filter(company=world.company, month=month).values_list(
            "threshold", flat=True
        )
    )


def test_f5_spend_alerts_thresholds_are_50_80_and_100_percent_and_reaching_one_crosses_it():
    assert THRESHOLDS == (50, 80, 100)
    budget = D("200.00")
    assert thresholds_crossed(budget=budget, spent=D("99.99"), already=set()) == []
    assert thresholds_crossed(budget=budget, spent=D("100.00"), already=set()) == [50]
    assert thresholds_crossed(budget=budget, spent=D("160.00"), already={50}) == [80]
    assert thresholds_crossed(budget=budget, spent=D("200.00"), already={50, 80}) == [
        100
    ]


@pytest.mark.django_db
def test_f5_spend_alerts_each_threshold_emails_the_company_admins_once_per_month(
    client,
):
    # given a 10 EUR budget, one company admin and one agent
    world = _world(client)
    budget_set(company=world.company, amount=D("10"), actor=world.admin)
    # when the month crosses 50 %, 80 % and 100 %, with beat running in between
    for euros, hour in ((5, 1), (3, 2), (2, 3), (4, 4)):
        _spend(world, euros, T + timedelta(hours=hour))
        _beat(T + timedelta(hours=hour, minutes=30))
    _beat(T + timedelta(hours=5))
    # then exactly three emails, all to the admin, none to the agent
    assert [m.to for m in mail.outbox] == [[world.admin.email]] * 3
    assert _alerts(world) == [50, 80, 100]


@pytest.mark.django_db
def test_f5_spend_alerts_the_running_total_is_the_estimated_total_of_the_usage_page(
    client,
):
    world = _world(client, tax_rate=D("0.21"), license_price=D("3"))
    budget_set(company=world.company, amount=D("10"), actor=world.admin)
    _spend(world, 2, T)  # (3 license + 2 usage) × 1.21 = 6.05
    _beat(T + timedelta(hours=1))
    client.force_login(world.admin)
    with time_machine.travel(T + timedelta(hours=1), tick=False):
        estimated = client.get(reverse("billing:usage")).context["invoice"].total
    assert SpendAlert.objects.get(company=world.company).spent == estimated == D("6.05")


@pytest.mark.django_db
def test_f5_spend_alerts_raising_the_budget_does_not_resend_what_was_notified(client):
    world = _world(client)
    budget_set(company=world.company, amount=D("10"), actor=world.admin)
    _spend(world, 6, T)
    _beat(T + timedelta(hours=1))
    budget_set(company=world.company, amount=D("20"), actor=world.admin)
    _spend(world, 5, T + timedelta(hours=2))  # 11 of 20: above 50 % again
    _beat(T + timedelta(hours=3))
    assert _alerts(world) == [50]
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_f5_spend_alerts_months_are_cut_in_the_company_billing_time_zone(client):
    world = _world(client, tz="Asia/Tokyo")  # UTC+9
    budget_set(company=world.company, amount=D("10"), actor=world.admin)
    # 31 October 16:00 UTC is already 1 November 01:00 in Tokyo
    world.invoice(OCT, at=datetime(2026, 10, 31, 15, 15, tzinfo=UTC))
    _spend(world, 5, datetime(2026, 10, 31, 16, tzinfo=UTC))
    _beat(datetime(2026, 10, 31, 16, 30, tzinfo=UTC))
    assert _alerts(world, NOV) == [50]
    assert _alerts(world, OCT) == []


@pytest.mark.django_db
def test_f5_spend_alerts_a_new_month_starts_fresh(client):
    world = _world(client)
    budget_set(company=world.company, amount=D("10"), actor=world.admin)
    _spend(world, 10, T)
    _beat(T + timedelta(hours=1))
    assert _alerts(world, OCT) == [50, 80, 100]
    # November: October is billed, then November traffic crosses 50 % again
    world.invoice(OCT, at=datetime(2026, 11, 1, 0, 15, tzinfo=UTC))
    _spend(world, 5, datetime(2026, 11, 2, 9, tzinfo=UTC))
    _beat(datetime(2026, 11, 2, 10, tzinfo=UTC))
    assert _alerts(world, NOV) == [50]
    # October's three thresholds were crossed at once: one email names them all
    assert len(mail.outbox) == 2


class _RefusingMailServer(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({})


@pytest.mark.django_db
def test_f5_spend_alerts_are_delivered_at_most_once(client, settings):
    world = _world(client)
    budget_set(company=world.company, amount=D("10"), actor=world.admin)
    _spend(world, 5, T)
    settings.EMAIL_BACKEND = f"{__name__}._RefusingMailServer"
    _beat(T + timedelta(hours=1))
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _beat(T + timedelta(hours=2))
    # the alert is recorded with the failure and never sent again
    alert = SpendAlert.objects.get(company=world.company)
    assert alert.threshold == 50 and alert.email_error.startswith(
        "SMTPRecipientsRefused"
    )
    assert mail.outbox == []


@pytest.mark.django_db
def test_f5_spend_alerts_only_the_companys_admins_set_its_budget(client):
    world = _world(client)
    client.force_login(world.agent)
    assert client.post(reverse("billing:budget"), {"amount": "10"}).status_code == 403
    outsider = CompanyAdminFactory()
    client.force_login(outsider)
    client.post(reverse("billing:budget"), {"amount": "10"})
    assert not MonthlyBudget.objects.filter(company=world.company).exists()
    assert MonthlyBudget.objects.get(company=outsider.company).amount == D("10")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_f5_spend_alerts_two_runs_at_once_send_once(client):
    world = _world(client)
    budget_set(company=world.company, amount=D("10"), actor=world.admin)
    _spend(world, 10, T)
    at = T + timedelta(hours=1)
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            spend_alerts_check(company=world.company, at=at)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _alerts(world) == [50, 80, 100]
    assert len(mail.outbox) == 1
