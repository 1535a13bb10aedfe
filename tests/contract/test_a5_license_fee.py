"""Contract test for rule A5 (license fee) of shared/PRICING_RULES.md."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from billing.models import InvoiceLine
from billing.services import invoice_compute, license_fee_compute
from licensing.services import license_count_set, license_price_set
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db

OCT = date(2026, 10, 1)


def _company(tz="UTC", price="15.00"):
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        company = CompanyFactory(billing_timezone=tz)
        license_price_set(
            company=company, currency="EUR", monthly_amount=price, actor=None
        )
    return company


def _set(company, quantity, at):
    with time_machine.travel(at, tick=False):
        license_count_set(company=company, quantity=quantity, actor=None)


def test_a5_license_fee_is_prorated_daily_by_the_highest_count_of_each_day():
    company = _company()
    _set(company, 5, datetime(2026, 9, 15, tzinfo=UTC))
    # from 21 October 7 licenses: 5 for 20 days, 7 for 11 days
    _set(company, 7, datetime(2026, 10, 21, 8, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 11, 1, 1, tzinfo=UTC), tick=False):
        invoice = invoice_compute(company=company, month=OCT)
    line = invoice.lines.get(kind=InvoiceLine.Kind.LICENSE)
    expected = Decimal("15.00") * (5 * 20 + 7 * 11) / 31  # 85.645… → 85.65
    assert line.amount == Decimal("85.65") == expected.quantize(Decimal("0.01"))
    assert (
        line.description
        == "WhatsApp licenses: 5 licenses for 20 days, 7 licenses for 11 days"
    )
    assert line.details["segments"] == [
        {"count": 5, "days": 20, "price": "15.0000"},
        {"count": 7, "days": 11, "price": "15.0000"},
    ]


def test_a5_license_fee_a_day_counts_its_highest_count_even_for_an_hour():
    company = _company()
    _set(company, 2, datetime(2026, 9, 1, tzinfo=UTC))
    _set(company, 10, datetime(2026, 10, 10, 9, tzinfo=UTC))
    _set(company, 2, datetime(2026, 10, 10, 10, tzinfo=UTC))
    fee = license_fee_compute(company=company, month=OCT)
    assert fee.license_days == 2 * 30 + 10
    assert fee.amount == (Decimal("15") * 70 / 31).quantize(Decimal("0.01"))


@pytest.mark.parametrize("n", [0, 1, 7, 250])
@pytest.mark.parametrize(
    "month", [date(2026, 2, 1), date(2028, 2, 1), OCT, date(2026, 3, 1)]
)
def test_a5_license_fee_a_full_month_at_n_licenses_costs_exactly_n_times_price(
    n, month
):
    company = _company(tz="Europe/Madrid", price="12.3456")
    _set(company, n, datetime(2026, 1, 2, tzinfo=UTC))
    fee = license_fee_compute(company=company, month=month)
    assert fee.amount == (Decimal("12.3456") * n).quantize(Decimal("0.01"))


def test_a5_license_fee_days_are_cut_in_the_company_time_zone():
    madrid = _company(tz="Europe/Madrid")
    utc = _company(tz="UTC")
    for company in (madrid, utc):
        _set(company, 1, datetime(2026, 9, 1, tzinfo=UTC))
        # 23:30 UTC on 9 October is already 10 October in Madrid (CEST, +2)
        _set(company, 3, datetime(2026, 10, 9, 23, 30, tzinfo=UTC))
    madrid_fee = license_fee_compute(company=madrid, month=OCT)
    utc_fee = license_fee_compute(company=utc, month=OCT)
    assert utc_fee.license_days == 1 * 8 + 3 * 23  # 9 October has 3 at its end
    assert madrid_fee.license_days == 1 * 9 + 3 * 22


def test_a5_license_fee_is_billed_in_arrears_on_the_months_invoice():
    company = _company()
    _set(company, 4, datetime(2026, 9, 1, tzinfo=UTC))
    at = datetime(2026, 11, 1, 1, tzinfo=UTC)
    with time_machine.travel(at, tick=False):
        october = invoice_compute(company=company, month=OCT)
    assert october.lines.get(kind="license").amount == Decimal("60.00")
    zone = ZoneInfo("UTC")
    assert october.period_end == datetime(2026, 11, 1, tzinfo=zone)
    assert october.period_start == october.period_end - timedelta(days=31)


def test_a5_license_fee_a_price_change_applies_from_its_day():
    company = _company()
    _set(company, 4, datetime(2026, 9, 1, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 10, 11, 15, tzinfo=UTC), tick=False):
        license_price_set(
            company=company, currency="EUR", monthly_amount="20.00", actor=None
        )
    fee = license_fee_compute(company=company, month=OCT)
    # 1-10 October at 15.00, 11-31 October at 20.00 (the day of the change at the new price)
    assert [(s.count, s.price, s.days) for s in fee.segments] == [
        (4, Decimal("15.00"), 10),
        (4, Decimal("20.00"), 21),
    ]
    assert fee.amount == (
        (Decimal("15") * 4 * 10 + Decimal("20") * 4 * 21) / 31
    ).quantize(Decimal("0.01"))


def test_a5_license_fee_a_new_company_set_up_mid_day_is_billed_for_that_day():
    with time_machine.travel(datetime(2026, 10, 15, 13, tzinfo=UTC), tick=False):
        company = CompanyFactory()
        license_price_set(
            company=company, currency="EUR", monthly_amount="31", actor=None
        )
        license_count_set(company=company, quantity=1, actor=None)
    assert license_fee_compute(company=company, month=OCT).amount == Decimal("17.00")
