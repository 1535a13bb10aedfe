"""F7: the due date and the status a customer reads, as pure rules, at the edges
of the due date in the company's zone."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.rules import (
    CustomerStatus,
    customer_status,
    due_date,
    invoice_balance,
    is_overdue,
    local_date,
)

MADRID = ZoneInfo("Europe/Madrid")
MEXICO = ZoneInfo("America/Mexico_City")
NEW_YORK = ZoneInfo("America/New_York")
DUE = date(2026, 12, 4)


def test_due_date_is_the_issue_date_plus_the_terms():
    assert due_date(issued_on=date(2026, 11, 4), terms_days=30) == DUE
    assert due_date(issued_on=date(2026, 11, 4), terms_days=0) == date(2026, 11, 4)
    # across a month and a year end
    assert due_date(issued_on=date(2026, 12, 15), terms_days=30) == date(2027, 1, 14)


def test_negative_terms_are_refused():
    with pytest.raises(ValueError):
        due_date(issued_on=DUE, terms_days=-1)


def test_the_issue_date_is_the_day_in_the_company_zone():
    # 23:30 UTC on 3 November is already the 4th in Madrid, still the 3rd in Mexico City
    at = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)
    assert local_date(at, MADRID) == date(2026, 11, 4)
    assert local_date(at, MEXICO) == date(2026, 11, 3)
    assert local_date(at, UTC) == date(2026, 11, 3)


@pytest.mark.parametrize(
    "zone, last_on_time_utc",
    [
        # the last instant of 4 December in each zone, in UTC
        (UTC, datetime(2026, 12, 4, 23, 59, 59, tzinfo=UTC)),
        (MADRID, datetime(2026, 12, 4, 22, 59, 59, tzinfo=UTC)),  # UTC+1 in winter
        (MEXICO, datetime(2026, 12, 5, 5, 59, 59, tzinfo=UTC)),  # UTC-6
        (NEW_YORK, datetime(2026, 12, 5, 4, 59, 59, tzinfo=UTC)),  # UTC-5 in winter
    ],
)
def test_overdue_from_midnight_after_the_due_date_in_the_company_zone(
    zone, last_on_time_utc
):
    on_time = customer_status(
        status="finalized", due=DUE, at=last_on_time_utc, zone=zone
    )
    late = customer_status(
        status="finalized",
        due=DUE,
        at=last_on_time_utc + timedelta(seconds=1),
        zone=zone,
    )
    assert (on_time, late) == (CustomerStatus.OPEN, CustomerStatus.OVERDUE)


def test_the_same_instant_is_open_in_one_zone_and_overdue_in_another():
    at = datetime(2026, 12, 5, 0, 30, tzinfo=UTC)  # the 5th in Madrid, the 4th in NY
    assert customer_status(status="finalized", due=DUE, at=at, zone=MADRID) == (
        CustomerStatus.OVERDUE
    )
    assert customer_status(status="finalized", due=DUE, at=at, zone=NEW_YORK) == (
        CustomerStatus.OPEN
    )


@pytest.mark.parametrize(
    "status", [CustomerStatus.DRAFT, CustomerStatus.PAID, CustomerStatus.VOID]
)
def test_draft_paid_and_void_never_become_overdue(status):
    long_after = datetime(2030, 1, 1, tzinfo=UTC)
    assert customer_status(status=status, due=DUE, at=long_after, zone=UTC) == status


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError):
        customer_status(status="sent", due=DUE, at=datetime.now(UTC), zone=UTC)


def test_no_due_date_is_never_overdue():
    assert not is_overdue(due=None, at=datetime(2030, 1, 1, tzinfo=UTC), zone=UTC)


def test_balance_of_each_status():
    total, credits = Decimal("18.37"), [Decimal("0.07"), Decimal("0.07")]
    finalized = invoice_balance(status="finalized", total=total, credits=credits)
    assert (finalized.credits_applied, finalized.amount_paid, finalized.amount_due) == (
        Decimal("0.14"),
        Decimal("0"),
        Decimal("18.23"),
    )
    paid = invoice_balance(status="paid", total=total, credits=credits)
    assert (paid.amount_paid, paid.amount_due) == (Decimal("18.23"), Decimal("0"))
    assert invoice_balance(status="void", total=total, credits=[]).amount_due is None
    assert invoice_balance(status="draft", total=total, credits=[]).amount_due is None


@given(
    total=st.decimals(min_value=0, max_value=10**6, places=2),
    credits=st.lists(st.decimals(min_value=0, max_value=10**6, places=2), max_size=4),
)
def test_amount_due_is_never_negative_and_paid_plus_due_is_the_balance(total, credits):
    finalized = invoice_balance(status="finalized", total=total, credits=credits)
    paid = invoice_balance(status="paid", total=total, credits=credits)
    assert finalized.amount_due >= 0
    assert finalized.amount_due == paid.amount_paid
    assert finalized.amount_due + finalized.credits_applied >= total
