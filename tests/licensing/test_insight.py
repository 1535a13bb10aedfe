"""License insight: sends per licensed user, idle licenses and their saving
(rules, selectors, the /licenses/ page and the admin); the weekly notice is in
test_notices.py."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from licensing import rules
from licensing.selectors import (
    companies_with_idle_licenses,
    idle_assignments,
    idle_licenses_by_company,
    license_insight,
    license_price_at,
    license_prices_at,
)
from licensing.services import license_count_set, license_price_set, license_revoke
from messaging.models import Message
from tests.factories import (
    CompanyAdminFactory,
    CompanyFactory,
    LicensePriceFactory,
    UserFactory,
)
from tests.licensing.helpers import DAY, SECOND, T, company_with, send

pytestmark = pytest.mark.django_db

# --- helpers ---------------------------------------------------------------------


def insight_row(company, user, at):
    holders = license_insight(company=company, at=at).holders
    return next(a for a in holders if a.user_id == user.pk)


# --- rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assigned_ago", "sent_ago", "idle"),
    [
        (30 * DAY, None, True),  # exactly 30 days held, never sent
        (30 * DAY - SECOND, None, False),  # one second short
        (30 * DAY + SECOND, None, True),
        (90 * DAY, 30 * DAY, True),  # last send exactly 30 days ago
        (90 * DAY, 30 * DAY - SECOND, False),
        (90 * DAY, 30 * DAY + SECOND, True),
        (90 * DAY, 200 * DAY, True),  # sent under an earlier license only
        (90 * DAY, timedelta(0), False),  # sent right now
        (10 * DAY, 200 * DAY, False),  # a new license is never idle
        (90 * DAY, -DAY, False),  # a send after ``at`` is not "nothing sent"
    ],
)
def test_license_is_idle_boundaries(assigned_ago, sent_ago, idle):
    last_sent_at = None if sent_ago is None else T - sent_ago
    assert (
        rules.license_is_idle(
            assigned_at=T - assigned_ago, last_sent_at=last_sent_at, at=T
        )
        is idle
    )


def test_license_is_idle_takes_another_period():
    assert rules.license_is_idle(
        assigned_at=T - 7 * DAY, last_sent_at=None, at=T, idle_after=7 * DAY
    )
    assert not rules.license_is_idle(
        assigned_at=T - 7 * DAY, last_sent_at=None, at=T, idle_after=8 * DAY
    )


@given(
    assigned=st.integers(min_value=0, max_value=10**8),
    sent=st.one_of(st.none(), st.integers(min_value=0, max_value=10**8)),
    later=st.integers(min_value=0, max_value=10**8),
)
def test_an_idle_license_stays_idle_while_nothing_is_sent(assigned, sent, later):
    at = T
    assigned_at = at - timedelta(seconds=assigned)
    last_sent_at = None if sent is None else at - timedelta(seconds=sent)
    if rules.license_is_idle(assigned_at=assigned_at, last_sent_at=last_sent_at, at=at):
        assert rules.license_is_idle(
            assigned_at=assigned_at,
            last_sent_at=last_sent_at,
            at=at + timedelta(seconds=later),
        )


def test_idle_cutoff_is_the_boundary_of_the_rule():
    cutoff = rules.idle_cutoff(at=T)
    assert cutoff == T - 30 * DAY
    assert rules.license_is_idle(assigned_at=cutoff, last_sent_at=cutoff, at=T)
    assert not rules.license_is_idle(
        assigned_at=cutoff, last_sent_at=cutoff + SECOND, at=T
    )


@pytest.mark.parametrize(
    ("count", "price", "saving"),
    [
        (3, Decimal("15.00"), Decimal("45.00")),
        (0, Decimal("15.00"), Decimal("0.00")),
        (2, Decimal("12.3450"), Decimal("24.6900")),
        (4, None, None),
    ],
)
def test_idle_saving_is_price_times_count(count, price, saving):
    assert rules.idle_saving(idle_count=count, monthly_price=price) == saving


@pytest.mark.parametrize(
    ("count", "price", "error"),
    [
        (-1, Decimal("1"), ValueError),
        (1.0, Decimal("1"), TypeError),
        (True, Decimal("1"), TypeError),
        (1, 15.0, TypeError),
    ],
)
def test_idle_saving_refuses_bad_input(count, price, error):
    with pytest.raises(error):
        rules.idle_saving(idle_count=count, monthly_price=price)


@pytest.mark.parametrize(
    ("at", "monday"),
    [
        (datetime(2026, 3, 9, 0, 0, tzinfo=UTC), date(2026, 3, 9)),  # Monday 00:00
        (datetime(2026, 3, 15, 23, 59, 59, tzinfo=UTC), date(2026, 3, 9)),  # Sunday
        (datetime(2026, 3, 16, 0, 0, tzinfo=UTC), date(2026, 3, 16)),
        (datetime(2027, 1, 1, 7, 0, tzinfo=UTC), date(2026, 12, 28)),  # ISO 2026-W53
    ],
)
def test_iso_week_start_is_the_utc_monday(at, monday):
    assert rules.iso_week_start(at=at) == monday


# --- selectors: sends per user -------------------------------------------------


def test_counts_per_user_this_month_in_the_company_zone():
    # given a company billed in Madrid (UTC+1 in March) and two licensed users
    company, (ana, bea) = company_with(users=2, billing_timezone="Europe/Madrid")
    # 23:30 UTC on 28 Feb is 00:30 on 1 March in Madrid: this month
    send(ana, at=datetime(2026, 2, 28, 23, 30, tzinfo=UTC), template=True)
    # 22:59 UTC on 28 Feb is 23:59 on 28 February in Madrid: last month
    send(ana, at=datetime(2026, 2, 28, 22, 59, tzinfo=UTC))
    send(ana, at=T - DAY)
    send(ana, at=T - 2 * DAY, template=True)
    send(bea, at=datetime(2026, 2, 20, tzinfo=UTC), template=True)
    # when
    row_ana = insight_row(company, ana, T)
    row_bea = insight_row(company, bea, T)
    # then: templates are counted in both columns; last send is any time
    assert (row_ana.templates_this_month, row_ana.messages_this_month) == (2, 3)
    assert row_ana.last_sent_at == T - DAY
    assert (row_bea.templates_this_month, row_bea.messages_this_month) == (0, 0)
    assert row_bea.last_sent_at == datetime(2026, 2, 20, tzinfo=UTC)


def test_inbound_messages_and_other_users_are_not_counted():
    company, (ana,) = company_with()
    other, (stranger,) = company_with()
    message = send(ana, at=T - DAY)
    Message.objects.create(
        company=company,
        conversation=message.conversation,
        direction=Message.Direction.INBOUND,
        type="text",
        wamid="wamid.inbound-1",
        provider_timestamp=T - SECOND,
        status=Message.Status.RECEIVED,
    )
    send(stranger, at=T - SECOND)
    row = insight_row(company, ana, T)
    assert (row.messages_this_month, row.last_sent_at) == (1, T - DAY)


def test_a_month_is_half_open_at_midnight_in_the_zone():
    company, (ana,) = company_with(billing_timezone="America/New_York")
    april_first = datetime(2026, 4, 1, 4, 0, tzinfo=UTC)  # 00:00 in New York (EDT)
    send(ana, at=april_first - SECOND)
    send(ana, at=april_first)
    assert insight_row(company, ana, april_first - SECOND).messages_this_month == 1
    assert insight_row(company, ana, april_first).messages_this_month == 1
    assert insight_row(company, ana, april_first + 5 * DAY).messages_this_month == 1


def test_readers_are_the_active_users_without_a_license():
    company, (ana,) = company_with()
    reader = UserFactory(company=company)
    UserFactory(company=company, is_active=False)
    with time_machine.travel(T, tick=False):
        license_revoke(company=company, users=[ana], actor=None)
    insight = license_insight(company=company, at=T + SECOND)
    assert insight.holders == []
    assert {u.pk for u in insight.readers} == {ana.pk, reader.pk}


# --- selectors: idle licenses --------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "idle"), [(-SECOND, False), (timedelta(0), True), (SECOND, True)]
)
def test_idle_query_and_rule_agree_at_the_boundary(offset, idle):
    # given a license assigned 30 days (+ offset) before ``at`` and never used
    at = T - 60 * DAY + 30 * DAY + offset
    company, (ana,) = company_with()
    # then the page (rule) and the admin filter / weekly task (query) agree
    assert insight_row(company, ana, at).is_idle is idle
    assert idle_assignments(at=at).filter(user=ana).exists() is idle
    assert (companies_with_idle_licenses(at=at) == [company.pk]) is idle


@pytest.mark.parametrize(
    ("sent_ago", "idle"), [(30 * DAY - SECOND, False), (30 * DAY, True)]
)
def test_a_send_30_days_ago_leaves_the_license_idle(sent_ago, idle):
    company, (ana,) = company_with()
    send(ana, at=T - sent_ago)
    assert insight_row(company, ana, T).is_idle is idle
    assert idle_assignments(at=T).filter(user=ana).exists() is idle


def test_revoked_licenses_are_never_idle():
    company, (ana,) = company_with()
    with time_machine.travel(T - DAY, tick=False):
        license_revoke(company=company, users=[ana], actor=None)
    assert not idle_assignments(at=T).exists()
    assert idle_licenses_by_company(at=T) == []


def test_saving_is_the_price_per_license_times_the_idle_count():
    company, (ana, bea, cai) = company_with(users=3)
    with time_machine.travel(T - 60 * DAY, tick=False):
        license_price_set(
            company=company, monthly_amount="15", currency="EUR", actor=None
        )
    send(cai, at=T - DAY)
    insight = license_insight(company=company, at=T)
    assert [a.user for a in insight.idle] == [ana, bea]
    assert insight.idle_saving == Decimal("30")
    [entry] = idle_licenses_by_company(at=T)
    assert (entry.company, entry.idle_count, entry.saving) == (
        company,
        2,
        Decimal("30"),
    )


def test_no_price_means_no_saving_figure():
    company, _ = company_with()
    assert license_insight(company=company, at=T).idle_saving is None


@pytest.mark.parametrize("case", ["negotiated", "default", "default_then", "none"])
def test_bulk_prices_agree_with_license_price_at(case):
    # given a company in one of the price situations of A2
    company = CompanyFactory(billing_currency="EUR")
    other = CompanyFactory(billing_currency="USD")
    if case in ("default", "default_then"):
        LicensePriceFactory(
            company=None, currency="EUR", monthly_amount=Decimal("9"), effective_at=T
        )
    if case in ("negotiated", "default_then"):
        LicensePriceFactory(
            company=company, monthly_amount=Decimal("7.5"), effective_at=T + 5 * DAY
        )
    LicensePriceFactory(company=other, currency="USD", monthly_amount=Decimal("3"))
    for at in (T - DAY, T, T + DAY, T + 5 * DAY, T + 10 * DAY):
        prices = license_prices_at(companies=[company, other], at=at)
        assert prices[company.pk] == license_price_at(company=company, at=at)
        assert prices[other.pk] == license_price_at(company=other, at=at)


def test_a_purchase_without_assignments_is_not_idle():
    # free (unassigned) licenses are shown as "Free", not as idle licenses
    company = CompanyFactory()
    with time_machine.travel(T - 60 * DAY, tick=False):
        license_count_set(company=company, quantity=5, actor=None)
    assert license_insight(company=company, at=T).idle_count == 0


# --- the /licenses/ page -------------------------------------------------------


def _admin_client(company) -> Client:
    client = Client()
    client.force_login(CompanyAdminFactory(company=company))
    return client


def test_page_shows_sends_per_user_and_flags_idle_licenses():
    company, (ana, bea) = company_with(users=2)
    with time_machine.travel(T - 60 * DAY, tick=False):
        license_price_set(
            company=company, monthly_amount="15", currency="EUR", actor=None
        )
    send(ana, at=T - DAY, template=True)
    send(ana, at=T - DAY)
    client = _admin_client(company)
    with time_machine.travel(T, tick=False):
        response = client.get(reverse("licensing:licenses"))
    page = response.content.decode()
    rows = {a.user: a for a in response.context["holders"]}
    assert (rows[ana].templates_this_month, rows[ana].messages_this_month) == (1, 2)
    assert not rows[ana].is_idle and rows[bea].is_idle
    assert 'id="idle-licenses"' in page
    assert "1 license idle for 30 days" in page
    # the saving: 1 idle license x EUR 15, formatted by the money filter
    assert 'data-testid="idle-saving">€15.00</strong> per month' in page


def test_page_in_spanish_formats_the_saving_the_spanish_way():
    company, _ = company_with(users=2)
    with time_machine.travel(T - 60 * DAY, tick=False):
        license_price_set(
            company=company, monthly_amount="15", currency="EUR", actor=None
        )
    client = _admin_client(company)
    with time_machine.travel(T, tick=False):
        page = client.get(
            reverse("licensing:licenses"), headers={"accept-language": "es"}
        ).content.decode()
    assert "2 licencias sin uso desde hace 30 días" in page
    assert "30,00\N{NO-BREAK SPACE}€" in page


def test_page_without_idle_licenses_shows_no_warning():
    company, (ana,) = company_with()
    send(ana, at=T - DAY)
    client = _admin_client(company)
    with time_machine.travel(T, tick=False):
        page = client.get(reverse("licensing:licenses")).content.decode()
    assert 'id="idle-licenses"' not in page


def _page_queries(n: int) -> int:
    company, holders = company_with(users=n)
    for user in holders:
        send(user, at=T - DAY, template=True)
    client = _admin_client(company)
    with (
        time_machine.travel(T, tick=False),
        CaptureQueriesContext(transaction.get_connection()) as queries,
    ):
        assert client.get(reverse("licensing:licenses")).status_code == 200
    return len(queries)


def test_page_query_count_is_constant(django_assert_max_num_queries):
    two = _page_queries(2)
    twenty = _page_queries(20)
    assert two == twenty
    company, holders = company_with(users=20)
    client = _admin_client(company)
    with django_assert_max_num_queries(12), time_machine.travel(T, tick=False):
        client.get(reverse("licensing:licenses"))


def test_agents_get_403_on_the_licenses_page(client):
    company, (ana,) = company_with()
    client.force_login(ana)
    assert client.get(reverse("licensing:licenses")).status_code == 403


# --- Customer Success in the admin --------------------------------------------


CHANGELIST = "admin:licensing_licenseassignment_changelist"


def test_admin_lists_sends_and_idle_saving_per_company(cs_client):
    company, (ana, bea) = company_with(users=2, name="Acme")
    with time_machine.travel(T - 60 * DAY, tick=False):
        license_price_set(
            company=company, monthly_amount="12", currency="EUR", actor=None
        )
    madrid, (cai, dee) = company_with(
        users=2, billing_timezone="Europe/Madrid", name="Bravo"
    )
    send(ana, at=T - DAY, template=True)
    send(cai, at=datetime(2026, 2, 28, 23, 30, tzinfo=UTC))  # 1 March in Madrid
    with time_machine.travel(T, tick=False):
        response = cs_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    rows = {a.user: a for a in response.context["cl"].result_list}
    assert (rows[ana].templates_this_month, rows[ana].messages_this_month) == (1, 1)
    assert rows[cai].messages_this_month == 1
    idle = {row["company"]: row for row in response.context["idle_companies"]}
    assert set(idle) == {company, madrid}
    assert (idle[company]["count"], idle[company]["saving"]) == (1, "€12.00")
    assert idle[madrid]["users"] == dee.get_full_name()
    assert idle[madrid]["saving"] == "—"  # no price: no saving figure
    assert "Licenses idle for 30 days" in response.content.decode()


def test_admin_filter_idle_for_30_days(cs_client):
    company, (ana, bea) = company_with(users=2)
    send(ana, at=T - 30 * DAY + SECOND)
    with time_machine.travel(T, tick=False):
        response = cs_client.get(reverse(CHANGELIST), {"idle": "yes"})
        everything = cs_client.get(reverse(CHANGELIST))
    assert [a.user for a in response.context["cl"].result_list] == [bea]
    assert len(everything.context["cl"].result_list) == 2


def _admin_queries(cs_client, n: int) -> int:
    for zone in ("UTC", "Europe/Madrid"):
        company, holders = company_with(users=n // 2, billing_timezone=zone)
        for user in holders:
            send(user, at=T - DAY)
    with (
        time_machine.travel(T, tick=False),
        CaptureQueriesContext(transaction.get_connection()) as queries,
    ):
        assert cs_client.get(reverse(CHANGELIST)).status_code == 200
    return len(queries)


def test_admin_query_count_is_constant(cs_client):
    assert _admin_queries(cs_client, 2) == _admin_queries(cs_client, 20)
