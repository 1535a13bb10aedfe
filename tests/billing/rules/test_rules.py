"""billing/rules.py and billing/money.py without the database."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import rules
from billing.money import currency_exponent, quantize_money


@pytest.mark.parametrize(
    "category,window_open,expected",
    [
        ("marketing", False, (True, rules.Reason.MARKETING)),
        ("marketing", True, (True, rules.Reason.MARKETING)),
        ("authentication", False, (True, rules.Reason.AUTHENTICATION)),
        ("authentication", True, (True, rules.Reason.AUTHENTICATION)),
        ("utility", False, (True, rules.Reason.UTILITY_NO_WINDOW)),
        ("utility", True, (False, rules.Reason.UTILITY_IN_WINDOW)),
    ],
)
def test_charge_for(category, window_open, expected):
    assert rules.charge_for(category=category, window_open=window_open) == expected


def test_charge_for_refuses_unknown_categories():
    with pytest.raises(ValueError, match="referral_conversion"):
        rules.charge_for(category="referral_conversion", window_open=False)


def test_free_form_messages_are_free_under_the_contract():
    for window_open in (True, False):
        assert rules.charge_for(category="service", window_open=window_open) == (
            False,
            rules.Reason.SERVICE_FREE,
        )


PREFIXES = [
    ("1", "North America"),
    ("1809", "Rest of Latin America"),
    ("34", "Spain"),
    ("7", "Russia"),
    ("971", "United Arab Emirates"),
]


@pytest.mark.parametrize(
    "wa_id,market",
    [
        ("18095550000", "Rest of Latin America"),
        ("12125550000", "North America"),
        ("34600000000", "Spain"),
        ("97150000000", "United Arab Emirates"),
        ("99900000000", "Other"),
        ("", "Other"),
    ],
)
def test_market_for_takes_the_longest_prefix(wa_id, market):
    assert rules.market_for(wa_id, PREFIXES) == market


@pytest.mark.parametrize(
    "amount,currency,expected",
    [
        ("0.005", "EUR", "0.01"),
        ("0.0049", "EUR", "0.00"),
        ("2.5", "JPY", "3"),
        ("1.5", "CLP", "2"),
        ("0.0005", "KWD", "0.001"),
        ("-0.005", "EUR", "-0.01"),
    ],
)
def test_quantize_money_half_up_to_the_minor_unit(amount, currency, expected):
    assert quantize_money(Decimal(amount), currency) == Decimal(expected)


def test_quantize_money_refuses_floats():
    with pytest.raises(TypeError):
        quantize_money(0.1, "EUR")


def test_currency_exponents_follow_iso_4217():
    assert [
        currency_exponent(c) for c in ("EUR", "USD", "JPY", "CLP", "KWD", "MXN")
    ] == [
        2,
        2,
        0,
        0,
        3,
        2,
    ]


def test_month_days_have_23_and_25_hours_on_dst_changes():
    madrid = ZoneInfo("Europe/Madrid")
    march = rules.month_days(date(2026, 3, 1), madrid)
    october = rules.month_days(date(2026, 10, 1), madrid)
    assert march[28][1] - march[28][0] == timedelta(hours=23)  # 29 March
    assert october[24][1] - october[24][0] == timedelta(hours=25)  # 25 October


ZONES = [
    "UTC",
    "Europe/Madrid",
    "America/Mexico_City",
    "America/Santiago",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/St_Johns",
]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("year", [2026, 2027, 2028])
def test_every_day_of_a_year_is_covered_exactly_once(zone, year):
    tz = ZoneInfo(zone)
    days = [d for m in range(1, 13) for d in rules.month_days(date(year, m, 1), tz)]
    assert len(days) == (366 if year % 4 == 0 else 365)
    assert days[0][0] == datetime(year, 1, 1, tzinfo=tz)
    assert days[-1][1] == datetime(year + 1, 1, 1, tzinfo=tz)
    for (_, end), (start, _) in zip(days, days[1:], strict=False):
        assert end == start  # contiguous: no gap, no overlap
    months = [rules.month_bounds(date(year, m, 1), tz) for m in range(1, 13)]
    for (_, end), (start, _) in zip(months, months[1:], strict=False):
        assert end == start
    assert all(s < e for s, e in days)


@given(
    count=st.integers(0, 10_000),
    price=st.decimals(min_value=0, max_value=100_000, places=4),
    days=st.sampled_from([28, 29, 30, 31]),
)
def test_a_full_month_at_n_licenses_costs_exactly_n_times_price(count, price, days):
    fee = rules.license_fee([rules.LicenseDay(count=count, price=price)] * days)
    assert quantize_money(fee, "EUR") == quantize_money(price * count, "EUR")


@given(
    st.lists(
        st.tuples(
            st.integers(0, 50), st.sampled_from([Decimal("10"), Decimal("12.5")])
        ),
        min_size=28,
        max_size=31,
    )
)
def test_license_segments_cover_every_day_and_give_the_same_fee(days):
    license_days = [rules.LicenseDay(count=c, price=p) for c, p in days]
    segments = rules.license_segments(license_days)
    assert sum(s.days for s in segments) == len(days)
    regrouped = [
        rules.LicenseDay(s.count, s.price) for s in segments for _ in range(s.days)
    ]
    assert rules.license_fee(regrouped) == rules.license_fee(license_days)


@given(st.lists(st.decimals(min_value=0, max_value=10_000, places=4), max_size=30))
def test_invoice_total_is_the_sum_of_the_rounded_lines(amounts):
    lines = [quantize_money(a, "EUR") for a in amounts]
    assert rules.invoice_total(lines) == sum(lines, Decimal(0))
    assert rules.invoice_total(lines) == quantize_money(
        rules.invoice_total(lines), "EUR"
    )


def test_month_of_uses_the_company_zone():
    at = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    assert rules.month_of(at, ZoneInfo("UTC")) == date(2026, 10, 1)
    assert rules.month_of(at, ZoneInfo("Europe/Madrid")) == date(2026, 11, 1)


# --- Has a month ended (D3) ----------------------------------------------------------

MADRID = ZoneInfo("Europe/Madrid")
MEXICO = ZoneInfo("America/Mexico_City")


@pytest.mark.parametrize(
    ("at", "zone", "ended"),
    [
        # 1 December 00:00 in Madrid is 30 November 23:00 UTC
        (datetime(2026, 11, 30, 22, 59, 59, tzinfo=UTC), MADRID, False),
        (datetime(2026, 11, 30, 23, 0, tzinfo=UTC), MADRID, True),
        (datetime(2026, 11, 30, 23, 30, tzinfo=UTC), ZoneInfo("UTC"), False),
        (datetime(2026, 12, 1, 0, 0, tzinfo=UTC), ZoneInfo("UTC"), True),
        (datetime(2026, 12, 1, 5, 59, 59, tzinfo=UTC), MEXICO, False),
        (datetime(2026, 12, 1, 6, 0, tzinfo=UTC), MEXICO, True),
    ],
)
def test_month_has_ended_at_the_month_edge_in_the_zone(at, zone, ended):
    assert rules.month_has_ended(date(2026, 11, 1), at=at, zone=zone) is ended


@given(
    at=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.just(UTC),
    ),
    t=st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2110, 1, 1),
        timezones=st.just(UTC),
    ),
)
def test_open_from_is_the_first_instant_in_no_ended_month_of_any_zone(at, t):
    zones = [MADRID, MEXICO, ZoneInfo("UTC"), ZoneInfo("Pacific/Kiritimati")]
    in_ended_month = any(
        rules.month_has_ended(rules.month_of(t, z), at=at, zone=z) for z in zones
    )
    assert (t < rules.open_from(at=at, zones=zones)) is in_ended_month
