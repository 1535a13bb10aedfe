"""Spend alerts: the pure threshold rule, the budget service, the beat run end to
end through the webhook under time travel, the portal's budget bar and form, and
the admin for Customer Success."""

import logging
import smtplib
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from billing.exceptions import BudgetNotAllowed, InvalidBudget
from billing.models import MonthlyBudget, SpendAlert
from billing.rules.alerts import (
    THRESHOLDS,
    BudgetProblem,
    budget_amount_problem,
    budget_used,
    thresholds_crossed,
)
from billing.selectors import spend_alerts_due
from billing.services import BUDGET_ERRORS, budget_set, spend_alerts_check
from billing.tasks import spend_alerts_run_task
from tests import whatsapp
from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory, CompanyFactory, UserFactory

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)
NOV = date(2026, 11, 1)
D = Decimal


# --- The rule (no database) -------------------------------------------------------


@pytest.mark.parametrize(
    "spent,already,expected",
    [
        ("0", set(), []),
        ("-5", set(), []),  # a credit never crosses anything
        ("49.99", set(), []),
        ("50", set(), [50]),  # exactly 50 % counts as crossed
        ("50.00", set(), [50]),
        ("79.99", set(), [50]),
        ("80", set(), [50, 80]),
        ("99.99", set(), [50, 80]),
        ("100", set(), [50, 80, 100]),
        ("100.01", set(), [50, 80, 100]),
        ("250", set(), [50, 80, 100]),
        ("85", {50}, [80]),
        ("85", {50, 80}, []),
        ("120", {50, 80}, [100]),
        ("120", {50, 80, 100}, []),
        ("40", {50}, []),  # the budget was raised after 50 %: nothing new
        ("100", {80}, [50, 100]),  # any earlier gap is filled, in order
    ],
)
def test_thresholds_crossed_table(spent, already, expected):
    assert thresholds_crossed(budget=D("100"), spent=D(spent), already=already) == (
        expected
    )


@pytest.mark.parametrize(
    "budget,spent,expected",
    [
        # A budget that is not a round number: 50 % of 0.03 is 0.015.
        ("0.03", "0.01", []),
        ("0.03", "0.015", [50]),
        ("0.03", "0.0149", []),
        ("0.03", "0.024", [50, 80]),
        ("0.03", "0.03", [50, 80, 100]),
        # JPY: whole amounts.
        ("1000", "499", []),
        ("1000", "500", [50]),
        ("1000", "800", [50, 80]),
        ("1000", "999", [50, 80]),
        ("1000", "1000", [50, 80, 100]),
    ],
)
def test_thresholds_crossed_boundaries_are_exact(budget, spent, expected):
    assert thresholds_crossed(budget=D(budget), spent=D(spent), already=set()) == (
        expected
    )


@pytest.mark.parametrize("budget", ["0", "-1"])
def test_thresholds_need_a_positive_budget(budget):
    with pytest.raises(ValueError):
        thresholds_crossed(budget=D(budget), spent=D("1"), already=set())


def test_budget_used_is_the_fraction_spent():
    assert budget_used(budget=D("200"), spent=D("50")) == D("0.25")
    assert budget_used(budget=D("200"), spent=D("300")) == D("1.5")
    assert budget_used(budget=D("200"), spent=D("-3")) == 0


AMOUNTS = st.decimals(min_value=D("-10"), max_value=D("500"), places=2, allow_nan=False)


@given(spent_values=st.lists(AMOUNTS, max_size=30))
def test_a_threshold_is_reported_at_most_once_per_month(spent_values):
    # given a month of checks whatever the running totals (refunds included)
    budget = D("100")
    already: set[int] = set()
    reported: list[int] = []
    # when each check reports what is new and records it
    for spent in spent_values:
        new = thresholds_crossed(budget=budget, spent=spent, already=already)
        assert set(new).isdisjoint(already)
        reported += new
        already |= set(new)
    # then nothing twice, and exactly the thresholds the highest total reached
    assert len(reported) == len(set(reported))
    top = max(spent_values, default=D("0"))
    assert set(reported) == {t for t in THRESHOLDS if top * 100 >= budget * t}


@given(
    checks=st.lists(
        st.tuples(
            AMOUNTS, st.decimals(min_value=D("0.01"), max_value=D("400"), places=2)
        ),
        max_size=30,
    )
)
def test_a_threshold_is_reported_at_most_once_whatever_the_budget_changes(checks):
    already: set[int] = set()
    reported: list[int] = []
    for spent, budget in checks:
        new = thresholds_crossed(budget=budget, spent=spent, already=already)
        # each report is true for the budget of that moment
        assert all(spent * 100 >= budget * t for t in new)
        reported += new
        already |= set(new)
    assert len(reported) == len(set(reported))


@pytest.mark.parametrize(
    "amount,exponent,problem",
    [
        ("500", 2, None),
        ("500.5", 2, None),
        ("500.55", 2, None),
        ("500.555", 2, BudgetProblem.TOO_PRECISE),
        ("500.550", 2, None),  # trailing zeros are not precision
        ("0.01", 2, None),
        ("0", 2, BudgetProblem.NOT_POSITIVE),
        ("0.00", 2, BudgetProblem.NOT_POSITIVE),
        ("-10", 2, BudgetProblem.NOT_POSITIVE),
        ("NaN", 2, BudgetProblem.NOT_FINITE),
        ("Infinity", 2, BudgetProblem.NOT_FINITE),
        ("999999999999.99", 2, None),
        ("1000000000000", 2, BudgetProblem.TOO_LARGE),
        ("1E+3", 0, None),
        ("5000", 0, None),  # JPY
        ("5000.00", 0, None),
        ("5000.5", 0, BudgetProblem.TOO_PRECISE),
        ("12.345", 3, None),  # KWD
        ("12.3456", 3, BudgetProblem.TOO_PRECISE),
    ],
)
def test_budget_amount_problem_table(amount, exponent, problem):
    assert budget_amount_problem(amount=D(amount), exponent=exponent) == problem


# --- The budget service -------------------------------------------------------------


@pytest.mark.django_db
def test_budget_set_keeps_the_amount_currency_and_who(db):
    admin = CompanyAdminFactory()
    with time_machine.travel(T, tick=False):
        budget = budget_set(company=admin.company, amount=D("250.50"), actor=admin)
    budget.refresh_from_db()
    assert budget.amount == D("250.50")
    assert budget.currency == "EUR"
    assert budget.updated_by == admin
    assert budget.updated_at == T


@pytest.mark.django_db
def test_budget_set_to_none_clears_it_and_keeps_who_did(db):
    admin = CompanyAdminFactory()
    budget_set(company=admin.company, amount=D("100"), actor=admin)
    other = CompanyAdminFactory(company=admin.company)
    budget = budget_set(company=admin.company, amount=None, actor=other)
    assert budget.amount is None and budget.updated_by == other
    assert MonthlyBudget.objects.filter(company=admin.company).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "currency,amount,message",
    [
        ("EUR", "0", BUDGET_ERRORS[BudgetProblem.NOT_POSITIVE]),
        ("EUR", "-3", BUDGET_ERRORS[BudgetProblem.NOT_POSITIVE]),
        ("EUR", "10.001", "Use at most 2 decimal places for EUR."),
        ("JPY", "10.5", "JPY has no minor unit: enter a whole amount."),
        ("KWD", "10.0001", "Use at most 3 decimal places for KWD."),
        ("EUR", "1000000000000", BUDGET_ERRORS[BudgetProblem.TOO_LARGE]),
    ],
)
def test_budget_set_refuses_bad_amounts(currency, amount, message):
    admin = CompanyAdminFactory(company=CompanyFactory(billing_currency=currency))
    with pytest.raises(InvalidBudget) as refused:
        budget_set(company=admin.company, amount=D(amount), actor=admin)
    assert refused.value.message == str(message)
    assert not MonthlyBudget.objects.exists()


@pytest.mark.django_db
def test_only_the_companys_admins_and_customer_success_set_its_budget(db):
    company = CompanyFactory()
    agent = UserFactory(company=company)
    outsider = CompanyAdminFactory()
    for actor in (agent, outsider):
        with pytest.raises(BudgetNotAllowed):
            budget_set(company=company, amount=D("10"), actor=actor)
    assert not MonthlyBudget.objects.exists()
    from tests.factories import StaffUserFactory

    budget_set(company=company, amount=D("10"), actor=StaffUserFactory())
    assert MonthlyBudget.objects.get(company=company).amount == D("10")


# --- End to end: traffic, the beat run, emails ---------------------------------------


@pytest.fixture(autouse=True)
def _statuses_by_hand(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False


@pytest.fixture(autouse=True)
def _english():
    """Service messages follow the active language; a test's request may leave
    another one active in this thread."""
    with translation.override("en"):
        yield


def _world(client, **kw) -> World:
    """Marketing to Spain at exactly 1 EUR, free licenses, no tax: total = messages."""
    rate_card(
        rates={("Spain", "marketing"): "1.0000"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world = World(client, start=T, **kw)
    world.admins = [
        CompanyAdminFactory(
            company=world.company,
            email=f"boss{i}@{world.company.slug}.example",
        )
        for i in (1, 2)
    ]
    return world


@pytest.fixture
def world(client, db):
    return _world(client)


def _in_english(world) -> None:
    """The admins chose English (the company, in Spain, would read Spanish)."""
    for admin in world.admins:
        admin.language = "en"
        admin.save(update_fields=["language"])


def _spend(world, n: int, at: datetime) -> None:
    for i in range(n):
        world.send_and_deliver("marketing", at + timedelta(minutes=i))


def _run(at: datetime) -> int:
    """The beat job at ``at``; on-commit emails leave as a real commit would."""
    with time_machine.travel(at, tick=False), whatsapp.on_commit():
        return spend_alerts_run_task.delay().get()


def _outbox_for(email: str) -> list:
    return [m for m in mail.outbox if email in m.to]


def _sent(world, month=OCT) -> list[int]:
    return list(
        SpendAlert.objects.filter(company=world.company, month=month)
        .order_by("threshold")
        .values_list("threshold", flat=True)
    )


@pytest.mark.django_db
def test_traffic_crossing_50_80_100_sends_three_emails_to_each_admin_only(world):
    _in_english(world)
    # given a budget of 10 EUR
    budget_set(company=world.company, amount=D("10"), actor=world.admins[0])
    agent_email = world.agent.email
    # when the month runs through 4, 5, 8, 10 and 12 EUR, checked by beat each time
    steps = [(4, []), (1, [50]), (3, [50, 80]), (2, [50, 80, 100]), (2, [50, 80, 100])]
    at = T
    for n, expected in steps:
        _spend(world, n, at)
        at += timedelta(hours=1)
        _run(at)
        # then each threshold is recorded when it is reached, once
        assert _sent(world) == expected
    # then three emails per admin, none to the agent
    for admin in world.admins:
        emails = _outbox_for(admin.email)
        assert len(emails) == 3
        assert [m.to for m in emails] == [[admin.email]] * 3
    assert len(mail.outbox) == 6
    assert not _outbox_for(agent_email)
    subjects = [m.subject for m in _outbox_for(world.admins[0].email)]
    assert subjects == [
        f"{world.company.name}: 50% of the monthly WhatsApp budget reached",
        f"{world.company.name}: 80% of the monthly WhatsApp budget reached",
        f"{world.company.name}: 100% of the monthly WhatsApp budget reached",
    ]
    body = _outbox_for(world.admins[0].email)[-1].body
    assert "October 2026 have reached 100% of the monthly budget" in body
    assert "€10.00" in body and "/billing/usage/" in body
    alert = SpendAlert.objects.get(company=world.company, month=OCT, threshold=100)
    assert alert.spent == D("10") and alert.budget == D("10")
    assert sorted(alert.recipients) == sorted(a.email for a in world.admins)
    assert alert.email_error == ""


@pytest.mark.django_db
def test_a_second_run_sends_nothing(world):
    budget_set(company=world.company, amount=D("10"), actor=None)
    _spend(world, 9, T)
    _run(T + timedelta(hours=1))
    assert len(mail.outbox) == 2  # one email per admin, for 50 and 80 together
    _run(T + timedelta(hours=2))
    _run(T + timedelta(hours=3))
    assert len(mail.outbox) == 2
    assert _sent(world) == [50, 80]


@pytest.mark.django_db
def test_crossing_several_thresholds_at_once_records_each_and_emails_once(world):
    _in_english(world)
    budget_set(company=world.company, amount=D("4"), actor=None)
    _spend(world, 5, T)
    _run(T + timedelta(hours=1))
    assert _sent(world) == [50, 80, 100]
    email = _outbox_for(world.admins[0].email)
    assert len(email) == 1
    assert "100% of the monthly WhatsApp budget" in email[0].subject
    assert "Thresholds reached: 50%, 80%, 100%" in email[0].body


@pytest.mark.django_db
def test_no_budget_or_a_cleared_budget_sends_nothing(world):
    _spend(world, 5, T)
    assert _run(T + timedelta(hours=1)) == 0
    budget_set(company=world.company, amount=D("1"), actor=None)
    budget_set(company=world.company, amount=None, actor=None)
    assert _run(T + timedelta(hours=2)) == 0
    assert not mail.outbox and not SpendAlert.objects.exists()


@pytest.mark.django_db
def test_raising_the_budget_does_not_resend(world):
    budget_set(company=world.company, amount=D("10"), actor=None)
    _spend(world, 6, T)
    _run(T + timedelta(hours=1))
    assert _sent(world) == [50]
    # the budget is raised above the running total (6 of 20 = 30 %)
    budget_set(company=world.company, amount=D("20"), actor=None)
    _run(T + timedelta(hours=2))
    # 11 of 20 = 55 %: 50 % was already notified this month
    _spend(world, 5, T + timedelta(hours=3))
    _run(T + timedelta(hours=4))
    assert _sent(world) == [50]
    assert len(_outbox_for(world.admins[0].email)) == 1
    # 16 of 20 = 80 %: new
    _spend(world, 5, T + timedelta(hours=5))
    _run(T + timedelta(hours=6))
    assert _sent(world) == [50, 80]
    alert = SpendAlert.objects.get(company=world.company, threshold=80)
    assert (alert.spent, alert.budget) == (D("16"), D("20"))
    assert len(_outbox_for(world.admins[0].email)) == 2


@pytest.mark.django_db
def test_a_new_month_starts_fresh_after_its_billing_run(world):
    budget_set(company=world.company, amount=D("10"), actor=None)
    _spend(world, 10, T)
    _run(T + timedelta(hours=1))
    assert _sent(world, OCT) == [50, 80, 100]
    outbox = len(mail.outbox)
    # 1 November 00:00 UTC, before the billing run computed October's draft: the
    # November preview still carries October, so the check waits.
    midnight = datetime(2026, 11, 1, tzinfo=UTC)
    assert spend_alerts_due(at=midnight) == [world.company.pk]
    _run(midnight)
    assert _sent(world, NOV) == [] and len(mail.outbox) == outbox
    # the billing run computes October; November is empty so far
    world.invoice(OCT, at=midnight + timedelta(minutes=15))
    _run(midnight + timedelta(minutes=30))
    assert _sent(world, NOV) == []
    # November traffic crosses 50 % of the budget again: a new alert
    _spend(world, 5, midnight + timedelta(hours=9))
    _run(midnight + timedelta(hours=10))
    assert _sent(world, NOV) == [50]
    assert _sent(world, OCT) == [50, 80, 100]
    assert len(mail.outbox) == outbox + 2


@pytest.mark.django_db
def test_months_are_counted_in_the_company_time_zone(client):
    # given a company in Mexico City (UTC-6), budget 10
    world = _world(client, tz="America/Mexico_City")
    budget_set(company=world.company, amount=D("10"), actor=None)
    # 31 October 23:00 in Mexico City is 1 November 05:00 UTC
    late_october = datetime(2026, 11, 1, 5, tzinfo=UTC)
    _spend(world, 5, late_october)
    # when beat runs at 05:30 UTC, still 31 October 23:30 there
    _run(late_october + timedelta(minutes=30))
    # then the alert belongs to October, the company's month
    assert _sent(world, OCT) == [50]
    assert _sent(world, NOV) == []
    # and at 06:30 UTC (00:30 on 1 November there), once October is billed,
    # November starts fresh
    world.invoice(OCT, at=late_october + timedelta(hours=1, minutes=15))
    _run(late_october + timedelta(hours=1, minutes=30))
    assert _sent(world, NOV) == []


@pytest.mark.django_db
def test_the_total_is_the_usage_pages_estimated_total_with_licenses_and_tax(client):
    # 1 license at 3 EUR a month, 21 % tax, 2 messages: (3 + 2) × 1.21 = 6.05
    world = _world(client, tax_rate=D("0.21"), license_price=D("3"))
    budget_set(company=world.company, amount=D("10"), actor=None)
    _spend(world, 2, T)
    at = T + timedelta(hours=1)
    with time_machine.travel(at, tick=False), whatsapp.on_commit():
        (alert,) = spend_alerts_check(company=world.company, at=at)
    assert alert.threshold == 50 and alert.spent == D("6.05")
    client.force_login(world.admins[0])
    with time_machine.travel(at, tick=False):
        page = client.get(reverse("billing:usage"))
    assert page.context["invoice"].total == alert.spent
    assert page.context["budget"].spent == alert.spent


@pytest.mark.django_db
def test_missing_rates_leave_the_priced_part_checked_without_failing(client, caplog):
    """C6: utility has no rate: those charges are not in the total the alert
    compares (a floor of the spend), and the log says what is unpriced."""
    world = _world(client)
    budget_set(company=world.company, amount=D("0.10"), actor=None)
    world.send_and_deliver("utility", T)  # no utility rate on the card
    with caplog.at_level(logging.WARNING, logger="billing.services.alerts"):
        _run(T + timedelta(hours=1))
    assert not SpendAlert.objects.exists()
    assert "1 utility in Spain without a rate yet" in caplog.text
    _spend(world, 1, T + timedelta(hours=2))  # priced marketing crosses 50 %
    _run(T + timedelta(hours=3))
    assert SpendAlert.objects.filter(company=world.company, threshold=50).exists()


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.mark.django_db
def test_a_failed_email_is_logged_and_kept_not_resent(world, settings, caplog):
    """At most once: the alert stays recorded with the error; the next run does
    not send it again (the budget bar still shows the threshold crossed)."""
    budget_set(company=world.company, amount=D("10"), actor=None)
    _spend(world, 5, T)
    settings.EMAIL_BACKEND = f"{__name__}.BrokenBackend"
    with caplog.at_level(logging.ERROR, logger="billing.services.alerts"):
        _run(T + timedelta(hours=1))
    alert = SpendAlert.objects.get(company=world.company, threshold=50)
    assert alert.email_error == (
        "SMTPServerDisconnected: Connection unexpectedly closed"
    )
    assert "Spend alert email" in caplog.text and "not retried" in caplog.text
    # the mail server is back: nothing is sent again for 50 %
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _run(T + timedelta(hours=2))
    assert mail.outbox == []
    assert _sent(world) == [50]


@pytest.mark.django_db
def test_the_email_leaves_only_after_commit(world, django_capture_on_commit_callbacks):
    budget_set(company=world.company, amount=D("10"), actor=None)
    _spend(world, 5, T)
    at = T + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        spend_alerts_check(company=world.company, at=at)
    assert mail.outbox == [] and len(callbacks) == 1
    callbacks[0]()
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_the_database_refuses_a_second_alert_for_the_same_threshold_and_month():
    company = CompanyFactory()
    fields = {"company": company, "month": OCT, "spent": D("5"), "budget": D("10")}
    SpendAlert.objects.create(threshold=50, **fields)
    with pytest.raises(IntegrityError):
        SpendAlert.objects.create(threshold=50, **fields)


@pytest.mark.django_db
def test_the_beat_run_skips_companies_whose_month_is_fully_notified(world):
    other = CompanyFactory()
    budget_set(company=other, amount=D("10"), actor=None)
    budget_set(company=world.company, amount=D("10"), actor=None)
    assert spend_alerts_due(at=T) == sorted([world.company.pk, other.pk])
    for t in THRESHOLDS:
        SpendAlert.objects.create(
            company=other, month=OCT, threshold=t, spent=D("10"), budget=D("10")
        )
    assert spend_alerts_due(at=T) == [world.company.pk]
    # next month it is checked again
    assert other.pk in spend_alerts_due(at=datetime(2026, 11, 2, tzinfo=UTC))


def test_the_beat_schedule_runs_the_check_every_30_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["check-spend-alerts"]
    assert entry["task"] == "billing.tasks.spend_alerts_run_task"
    assert entry["schedule"].minute == {0, 30}


# --- Two runs at once (PostgreSQL) ------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_runs_send_once(client):
    world = _world(client)
    budget_set(company=world.company, amount=D("10"), actor=None)
    _spend(world, 9, T)
    at = T + timedelta(hours=1)
    barrier = threading.Barrier(6)
    errors: list[Exception] = []
    recorded: list[int] = []

    def run():
        try:
            barrier.wait()
            alerts = spend_alerts_check(company=world.company, at=at)
            recorded.extend(a.threshold for a in alerts)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(recorded) == [50, 80]
    assert _sent(world) == [50, 80]
    assert len(mail.outbox) == 2  # one per admin, once


# --- The portal ---------------------------------------------------------------------


USAGE = "/billing/usage/"
BUDGET = "/billing/usage/budget/"


def test_the_routes():
    assert reverse("billing:usage") == USAGE
    assert reverse("billing:budget") == BUDGET


@pytest.mark.django_db
def test_usage_page_shows_the_bar_thresholds_and_form(client, world):
    budget_set(company=world.company, amount=D("10"), actor=None)
    _spend(world, 6, T)
    _run(T + timedelta(hours=1))  # 50 % emailed at 10:00 UTC
    _spend(world, 2, T + timedelta(hours=2))  # 8 of 10: 80 % reached, not yet emailed
    client.force_login(world.admins[0])
    with time_machine.travel(T + timedelta(hours=3), tick=False):
        response = client.get(USAGE)
    page = response.content.decode()
    status = response.context["budget"]
    assert status.spent == D("8") and status.used == D("0.8") and status.bar_width == 80
    assert 'data-testid="budget-bar"' in page
    assert "#budget-bar-fill { width: 80%; }" in page
    assert "€8.00 of €10.00 (80% used)" in page
    assert "crossed: admins emailed on Oct. 6, 2026, 10 a.m. (at €6.00)" in page
    assert "reached: the admins get an email within 30 minutes" in page
    assert "not reached" in page
    assert f'action="{BUDGET}"' in page and "csrfmiddlewaretoken" in page
    assert 'value="10.00"' in page
    assert "Remove budget" in page


@pytest.mark.django_db
def test_usage_page_without_a_budget_offers_the_form(client, world):
    client.force_login(world.admins[0])
    page = client.get(USAGE).content.decode()
    assert "No budget: no alerts." in page
    assert 'data-testid="budget-bar"' not in page
    assert "Save budget" in page and "Remove budget" not in page


@pytest.mark.django_db
def test_usage_page_in_the_company_time_zone_and_spanish(client):
    world = _world(client, tz="Europe/Madrid")
    budget_set(company=world.company, amount=D("1234.5"), actor=None)
    client.force_login(world.admins[0])
    page = client.get(USAGE, headers={"accept-language": "es"}).content.decode()
    assert "Presupuesto mensual" in page
    assert 'value="1234,50"' in page


@pytest.mark.django_db
def test_usage_page_budget_costs_two_queries(client, world):
    _spend(world, 3, T)
    client.force_login(world.admins[0])
    at = T + timedelta(hours=1)

    def count() -> int:
        with (
            time_machine.travel(at, tick=False),
            CaptureQueriesContext(connection) as ctx,
        ):
            assert client.get(USAGE).status_code == 200
        return len(ctx.captured_queries)

    without = count()
    budget_set(company=world.company, amount=D("2"), actor=None)
    with time_machine.travel(at, tick=False), whatsapp.on_commit():
        spend_alerts_check(company=world.company, at=at)
    assert SpendAlert.objects.count() == 3
    assert count() <= without + 1  # the alerts of the month, in one query


@pytest.mark.django_db
def test_an_admin_sets_changes_and_clears_the_budget(client, world):
    admin = world.admins[0]
    client.force_login(admin)
    response = client.post(BUDGET, {"amount": "250.50"})
    assert response.status_code == 302 and response.url == USAGE
    budget = MonthlyBudget.objects.get(company=world.company)
    assert (budget.amount, budget.currency, budget.updated_by) == (
        D("250.50"),
        "EUR",
        admin,
    )
    page = client.get(USAGE).content.decode()
    assert "Budget saved: €250.50 a month." in page
    client.post(BUDGET, {"amount": "300"})
    budget.refresh_from_db()
    assert budget.amount == D("300")
    client.post(BUDGET, {"amount": "12abc", "clear": "1"})  # "Remove"
    budget.refresh_from_db()
    assert budget.amount is None
    assert "Budget removed: no spend alerts." in client.get(USAGE).content.decode()
    client.post(BUDGET, {"amount": ""})  # an empty box clears too
    budget.refresh_from_db()
    assert budget.amount is None


@pytest.mark.django_db
def test_the_budget_accepts_spanish_decimals(client, world):
    client.force_login(world.admins[0])
    client.post(BUDGET, {"amount": "99,95"}, headers={"accept-language": "es"})
    assert MonthlyBudget.objects.get(company=world.company).amount == D("99.95")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amount,error",
    [
        ("0", "The budget must be more than zero."),
        ("-5", "The budget must be more than zero."),
        ("10.999", "Use at most 2 decimal places for EUR."),
        ("abc", "Enter a number."),
        ("1e15", "The budget is too large."),
    ],
)
def test_a_bad_budget_is_refused_with_the_reason(client, world, amount, error):
    client.force_login(world.admins[0])
    response = client.post(BUDGET, {"amount": amount})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="budget-errors"' in page and error in page
    assert "is-invalid" in page
    assert "Estimated total" in page  # the whole usage page, with the form's errors
    assert not MonthlyBudget.objects.exists()


@pytest.mark.django_db
def test_a_yen_budget_takes_whole_amounts_only(client):
    admin = CompanyAdminFactory(company=CompanyFactory(billing_currency="JPY"))
    client.force_login(admin)
    page = client.post(BUDGET, {"amount": "5000.5"}).content.decode()
    assert "JPY has no minor unit: enter a whole amount." in page
    client.post(BUDGET, {"amount": "5000"})
    assert MonthlyBudget.objects.get(company=admin.company).amount == D("5000")


@pytest.mark.django_db
def test_agents_get_403_and_change_nothing(client, world):
    client.force_login(world.agent)
    assert client.post(BUDGET, {"amount": "10"}).status_code == 403
    assert client.get(USAGE).status_code == 403
    assert not MonthlyBudget.objects.exists()


@pytest.mark.django_db
def test_anonymous_visitors_go_to_login(client, world):
    response = client.post(BUDGET, {"amount": "10"})
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert not MonthlyBudget.objects.exists()


@pytest.mark.django_db
def test_the_budget_form_needs_post_and_csrf(world):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(world.admins[0])
    assert csrf_client.get(BUDGET).status_code == 405
    assert csrf_client.post(BUDGET, {"amount": "10"}).status_code == 403
    assert not MonthlyBudget.objects.exists()


@pytest.mark.django_db
def test_another_companys_budget_cannot_be_changed(client, world):
    budget_set(company=world.company, amount=D("10"), actor=None)
    outsider = CompanyAdminFactory()
    client.force_login(outsider)
    # whatever names the other company, the budget set is the user's own company's
    client.post(
        BUDGET,
        {"amount": "99", "company": world.company.pk, "company_id": world.company.pk},
    )
    assert MonthlyBudget.objects.get(company=world.company).amount == D("10")
    assert MonthlyBudget.objects.get(company=outsider.company).amount == D("99")
    page = client.get(USAGE).content.decode()
    assert "€10.00" not in page


# --- The admin for Customer Success -----------------------------------------------------


@pytest.mark.django_db
def test_customer_success_lists_budgets_and_alerts(cs_client, world):
    budget_set(company=world.company, amount=D("10"), actor=world.admins[0])
    _spend(world, 9, T)
    _run(T + timedelta(hours=1))
    page = cs_client.get(reverse("admin:billing_monthlybudget_changelist"))
    assert page.status_code == 200
    assert world.company.name in page.content.decode()
    assert "10.00 EUR" in page.content.decode()
    page = cs_client.get(reverse("admin:billing_spendalert_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "50 %" in text and "80 %" in text and "9.00 EUR" in text
    assert world.admins[0].email in text


@pytest.mark.django_db
def test_customer_success_edits_a_budget_through_the_service(cs_client, cs_user, world):
    budget = budget_set(company=world.company, amount=D("10"), actor=None)
    url = reverse("admin:billing_monthlybudget_change", args=[budget.pk])
    assert cs_client.get(url).status_code == 200
    refused = cs_client.post(url, {"amount": "10.001"})
    assert refused.status_code == 200
    assert "Use at most 2 decimal places for EUR." in refused.content.decode()
    assert cs_client.post(url, {"amount": "40"}).status_code == 302
    budget.refresh_from_db()
    assert (budget.amount, budget.updated_by) == (D("40"), cs_user)
    # add one for a company without a budget
    other = CompanyFactory()
    add = reverse("admin:billing_monthlybudget_add")
    assert cs_client.post(add, {"company": other.pk, "amount": "5"}).status_code == 302
    assert MonthlyBudget.objects.get(company=other).updated_by == cs_user
    # never deleted: emptied
    delete = reverse("admin:billing_monthlybudget_delete", args=[budget.pk])
    assert cs_client.get(delete).status_code == 403


@pytest.mark.django_db
def test_spend_alerts_are_view_only_in_the_admin(cs_client, world):
    alert = SpendAlert.objects.create(
        company=world.company, month=OCT, threshold=50, spent=D("5"), budget=D("10")
    )
    change = reverse("admin:billing_spendalert_change", args=[alert.pk])
    response = cs_client.get(change)
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert cs_client.post(change, {"threshold": "80"}).status_code == 403
    assert cs_client.get(reverse("admin:billing_spendalert_add")).status_code == 403
    delete = reverse("admin:billing_spendalert_delete", args=[alert.pk])
    assert cs_client.get(delete).status_code == 403


def _budgets_with_alerts(n: int) -> None:
    for _ in range(n):
        company = CompanyFactory()
        budget_set(company=company, amount=D("10"), actor=None)
        for t in THRESHOLDS:
            SpendAlert.objects.create(
                company=company, month=OCT, threshold=t, spent=D("10"), budget=D("10")
            )


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["monthlybudget", "spendalert"])
def test_admin_lists_query_count_does_not_grow_with_rows(cs_client, name):
    url = reverse(f"admin:billing_{name}_changelist")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert cs_client.get(url).status_code == 200
        return len(ctx.captured_queries)

    _budgets_with_alerts(1)
    few = count()
    _budgets_with_alerts(6)
    assert count() == few


@pytest.mark.django_db
def test_each_admin_reads_the_alert_in_their_language(world):
    # given one admin who chose English and one who chose nothing (Spain: Spanish)
    world.admins[0].language = "en"
    world.admins[0].save()
    budget_set(company=world.company, amount=D("10"), actor=world.admins[0])
    # when the month reaches 50 %
    _spend(world, 5, T)
    _run(T + timedelta(hours=1))
    # then each gets the alert in their own language
    [english] = _outbox_for(world.admins[0].email)
    [spanish] = _outbox_for(world.admins[1].email)
    assert english.subject.endswith("50% of the monthly WhatsApp budget reached")
    assert spanish.subject == (
        f"{world.company.name}: alcanzado el 50% del presupuesto mensual de WhatsApp"
    )
    assert "octubre de 2026" in spanish.body and "October" not in spanish.body
    assert "10,00" in spanish.body
