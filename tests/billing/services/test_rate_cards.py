"""Rate card CSV import and export (billing/rate_cards.py)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from billing.exceptions import InvalidRateCard
from billing.models import Market, Rate, RateCard
from billing.services import (
    rate_card_create,
    rate_card_export,
    rate_card_import,
)
from tests.billing_world import rate_card
from tests.factories import CompanyFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

HEADER = "market,category,rate,currency,effective_from\n"
JAN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _before_the_rates():
    """December 2025: the 2026 rates of these files take effect in the future."""
    with time_machine.travel(datetime(2025, 12, 20, 12, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def card():
    return RateCard.objects.create(currency="EUR")


def _import(card, body: str, *, header: str = HEADER, actor=None) -> int:
    return rate_card_import(card=card, text=header + body, actor=actor)


def _errors(card, body: str, **kw) -> list[str]:
    with pytest.raises(InvalidRateCard) as info:
        _import(card, body, **kw)
    return info.value.errors


# --- export -------------------------------------------------------------------------


def test_export_has_the_columns_sorted_rows_4_decimals_and_iso_dates():
    # given
    card = rate_card(
        rates={("Spain", "utility"): "0.02", ("France", "marketing"): "0.132"},
        effective_from=JAN,
    )
    Rate.objects.create(
        card=card,
        market=Market.objects.get(name="Spain"),
        category="marketing",
        rate=Decimal("0.0615"),
        effective_from=datetime(2026, 7, 1, 10, 30, tzinfo=UTC),
    )
    Rate.objects.create(
        card=card,
        market=Market.objects.get(name="Spain"),
        category="marketing",
        rate=Decimal("0.06"),
        effective_from=JAN,
    )
    # when
    text = rate_card_export(card=card)
    # then
    assert text.splitlines() == [
        "market,category,rate,currency,effective_from",
        "France,marketing,0.1320,EUR,2026-01-01",
        "Spain,marketing,0.0600,EUR,2026-01-01",
        "Spain,marketing,0.0615,EUR,2026-07-01T10:30:00+00:00",
        "Spain,utility,0.0200,EUR,2026-01-01",
    ]


def test_export_of_an_empty_card_is_the_header():
    assert rate_card_export(card=RateCard.objects.create(currency="USD")) == HEADER


# --- import: the happy paths --------------------------------------------------------


def test_export_import_round_trip_gives_the_same_rates(card):
    # given a card with rates, one at a non-midnight instant
    source = rate_card(
        rates={
            ("Spain", "marketing"): "0.0615",
            ("Spain", "utility"): "0.0200",
            ("Rest of Western Europe", "authentication"): "0.0280",
        },
        effective_from=JAN,
    )
    Rate.objects.create(
        card=source,
        market=Market.objects.get(name="Spain"),
        category="marketing",
        rate=Decimal("0.0590"),
        effective_from=datetime(2026, 6, 30, 22, 0, tzinfo=UTC),
    )
    exported = rate_card_export(card=source)
    actor = StaffUserFactory()
    target = rate_card_create(company=CompanyFactory(), currency="EUR")
    # when
    created = rate_card_import(card=target, text=exported, actor=actor)
    # then
    assert created == 4
    assert rate_card_export(card=target) == exported
    assert set(target.rates.values_list("created_by", flat=True)) == {actor.pk}
    # importing the same file again changes nothing
    assert rate_card_import(card=target, text=exported, actor=actor) == 0
    assert target.rates.count() == 4


def test_import_accepts_any_column_order_case_blank_lines_and_offsets(card):
    # given
    text = (
        "Effective_From, Rate ,currency,market,CATEGORY\n"
        "2026-01-01,0.0615,EUR,spain,marketing\n"
        "\n"
        '2026-07-01T00:00:00+02:00,0.02,eur,"Rest of Western Europe",Utility\n'
        "2026-03-01T12:00:00Z,1,EUR,Other,authentication\n"
    )
    # when
    created = rate_card_import(card=card, text=text, actor=None)
    # then
    assert created == 3
    rates = {
        (r.market.name, r.category): (r.rate, r.effective_from)
        for r in card.rates.select_related("market")
    }
    assert rates == {
        ("Spain", "marketing"): (Decimal("0.0615"), JAN),
        ("Rest of Western Europe", "utility"): (
            Decimal("0.0200"),
            datetime(2026, 6, 30, 22, 0, tzinfo=UTC),
        ),
        ("Other", "authentication"): (
            Decimal("1.0000"),
            datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        ),
    }


def test_import_accepts_a_utf8_bom_and_crlf_line_ends(card):
    text = (
        "\ufeff"
        + HEADER.replace("\n", "\r\n")
        + "Spain,marketing,0.0615,EUR,2026-01-01\r\n"
    )
    assert rate_card_import(card=card, text=text, actor=None) == 1


def test_trailing_zeros_beyond_four_places_are_fine(card):
    assert _import(card, "Spain,marketing,0.061500,EUR,2026-01-01\n") == 1
    assert card.rates.get().rate == Decimal("0.0615")


def test_a_row_equal_to_an_existing_rate_is_skipped_silently(card):
    _import(card, "Spain,marketing,0.0615,EUR,2026-01-01\n")
    created = _import(
        card,
        "Spain,marketing,0.0615,EUR,2026-01-01T00:00:00+00:00\n"
        "Spain,marketing,0.0700,EUR,2026-07-01\n",
    )
    assert created == 1
    assert card.rates.count() == 2


# --- import: errors -----------------------------------------------------------------


def test_every_error_kind_is_reported_with_its_line_and_nothing_is_imported(card):
    # given a file with one valid row and one error of every kind
    body = (
        "Spain,marketing,0.0615,EUR,2026-01-01\n"  # line 2: fine
        "Spian,marketing,0.0615,EUR,2026-01-01\n"  # 3
        "Spain,promotional,0.0615,EUR,2026-01-01\n"  # 4
        "Spain,utility,abc,EUR,2026-01-01\n"  # 5
        "Spain,utility,-0.01,EUR,2026-01-01\n"  # 6
        "Spain,utility,0.06155,EUR,2026-01-01\n"  # 7
        "Spain,utility,0.02,USD,2026-01-01\n"  # 8
        "Spain,utility,0.02,EUR,2026-02-30\n"  # 9
        "Spain,utility,0.02,EUR,2026-01-01T00:00:00\n"  # 10
        "Spain,utility,0.02,EUR,next monday\n"  # 11
        "Spain,utility,0.02,EUR\n"  # 12
        "Spain,marketing,0.0615,EUR,2026-01-01\n"  # 13: duplicate of line 2
        "France,utility,1e-2,EUR,2026-01-01\n"  # 14
        "Spian,promotional,x,GBP,2026-13-01\n"  # 15: five errors on one line
    )
    # when
    with pytest.raises(InvalidRateCard) as info:
        _import(card, body)
    # then
    errors = info.value.errors
    assert errors == [
        "line 3: unknown market 'Spian'",
        "line 4: unknown category 'promotional' (use marketing, utility, authentication)",
        "line 5: rate 'abc' is not a decimal number such as 0.0615",
        "line 6: rate -0.01 is negative",
        "line 7: rate 0.06155 has more than 4 decimal places",
        "line 8: currency 'USD' does not match the card's currency EUR",
        "line 9: effective_from '2026-02-30' is not a valid date",
        "line 10: effective_from '2026-01-01T00:00:00' has no UTC offset (use "
        "YYYY-MM-DD or an ISO datetime with offset, e.g. 2026-01-01T00:00:00+01:00)",
        "line 11: effective_from 'next monday' is not a date (use YYYY-MM-DD or an "
        "ISO datetime with offset, e.g. 2026-01-01T00:00:00+01:00)",
        "line 12: expected 5 fields, found 4",
        "line 13: duplicate of line 2 (Spain marketing from 2026-01-01)",
        "line 14: rate '1e-2' is not a decimal number such as 0.0615",
        "line 15: unknown market 'Spian'",
        "line 15: unknown category 'promotional' (use marketing, utility, authentication)",
        "line 15: rate 'x' is not a decimal number such as 0.0615",
        "line 15: currency 'GBP' does not match the card's currency EUR",
        "line 15: effective_from '2026-13-01' is not a valid date",
    ]
    assert info.value.message == (
        "The file for Price list (EUR) has 17 errors; nothing was imported."
    )
    assert not Rate.objects.exists()


def test_a_rate_too_large_for_the_column_is_an_error(card):
    assert _errors(card, "Spain,marketing,123456789,EUR,2026-01-01\n") == [
        "line 2: rate 123456789 is too large (at most 99999999.9999)"
    ]


def test_the_same_rate_at_the_same_instant_written_twice_is_a_duplicate(card):
    errors = _errors(
        card,
        "Spain,marketing,0.0615,EUR,2026-01-01\n"
        "SPAIN,Marketing,0.0700,EUR,2026-01-01T01:00:00+01:00\n",
    )
    assert errors == ["line 3: duplicate of line 2 (Spain marketing from 2026-01-01)"]
    assert not Rate.objects.exists()


def test_a_row_conflicting_with_an_existing_rate_is_an_error_and_nothing_changes(
    card,
):
    # given
    _import(card, "Spain,marketing,0.0615,EUR,2026-01-01\n")
    # when
    errors = _errors(
        card,
        "Spain,utility,0.0200,EUR,2026-01-01\nSpain,marketing,0.0700,EUR,2026-01-01\n",
    )
    # then
    assert errors == [
        "line 3: Spain marketing from 2026-01-01 already has rate 0.0615 on this "
        "card, not 0.0700; rates are never edited: add a row with a later "
        "effective_from"
    ]
    assert list(card.rates.values_list("category", "rate")) == [
        ("marketing", Decimal("0.0615"))
    ]


def test_the_currency_must_be_the_cards(card):
    usd = RateCard.objects.create(currency="USD")
    assert _errors(usd, "Spain,marketing,0.0615,EUR,2026-01-01\n") == [
        "line 2: currency 'EUR' does not match the card's currency USD"
    ]


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (
            "",
            "line 1: the file has no header; expected market, category, rate, "
            "currency, effective_from",
        ),
        (
            "market,category,rate,effective_from\n",
            "line 1: the header must be exactly market, category, rate, currency, "
            "effective_from (in any order): missing currency",
        ),
        (
            "market,category,rate,currency,effective_from,note\n",
            "line 1: the header must be exactly market, category, rate, currency, "
            "effective_from (in any order): unexpected 'note'",
        ),
        (
            "market,market,category,rate,currency\n",
            "line 1: the header must be exactly market, category, rate, currency, "
            "effective_from (in any order): missing effective_from; repeated market",
        ),
        (
            "Spain,marketing,0.0615,EUR,2026-01-01\n",
            "line 1: the header must be exactly market, category, rate, currency, "
            "effective_from (in any order): missing market, category, rate, "
            "currency, effective_from; unexpected 'spain', 'marketing', '0.0615', "
            "'eur', '2026-01-01'",
        ),
    ],
)
def test_the_header_is_required_with_exactly_the_columns(card, header, error):
    assert _errors(card, "", header=header) == [error]


def test_a_header_only_file_imports_nothing(card):
    assert _import(card, "") == 0


def test_malformed_csv_is_reported_with_its_line_and_stops_there(card):
    errors = _errors(
        card,
        "Spian,marketing,0.0615,EUR,2026-01-01\n"
        'Spain,"marketing"x,0.0615,EUR,2026-01-01\n'
        "Spian,marketing,0.0615,EUR,2026-01-01\n",
    )
    assert errors == [
        "line 2: unknown market 'Spian'",
        "line 3: not valid CSV (',' expected after '\"')",
    ]


# --- creating cards ----------------------------------------------------------------


def test_a_company_card_must_use_the_company_billing_currency():
    company = CompanyFactory(name="Globex", billing_currency="MXN")
    with pytest.raises(InvalidRateCard) as info:
        rate_card_create(company=company, currency="EUR")
    assert info.value.message == (
        "Globex is billed in MXN; its rate card must use MXN, not EUR."
    )
    assert rate_card_create(company=company, currency="mxn").currency == "MXN"


def test_one_card_per_owner_and_currency():
    rate_card_create(company=None, currency="EUR")
    with pytest.raises(InvalidRateCard, match="already has a EUR rate card"):
        rate_card_create(company=None, currency="EUR")


# --- C6: no rate takes effect inside a month that has ended --------------------------

# 1 December 00:30 in Madrid = 30 November 23:30 UTC: November has ended in Madrid,
# not in UTC nor in Mexico City.
EDGE = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)


def test_c6_a_rate_inside_an_ended_month_is_a_line_error_and_nothing_is_imported(
    card,
):
    # given a draft November priced at 0.02; December 15th
    with time_machine.travel(datetime(2026, 11, 2, tzinfo=UTC), tick=False):
        _import(card, "Spain,utility,0.0200,EUR,2026-11-01\n")
    with time_machine.travel(datetime(2026, 12, 15, 10, tzinfo=UTC), tick=False):
        # when November is repriced after it ended
        errors = _errors(
            card,
            "Spain,marketing,0.0615,EUR,2026-12-01\n"
            "Spain,utility,6.0500,EUR,2026-11-10\n"
            "Spain,utility,6.0500,EUR,2026-11-30T23:59:59+00:00\n",
        )
    # then each such row is refused with its line, the other row is not imported
    message = (
        "would take effect in a month that has ended; new rates take effect from "
        "2026-12-01 on (the start of the month in progress), invoiced months are "
        "never repriced"
    )
    assert errors == [
        f"line 3: Spain utility from 2026-11-10 {message}",
        f"line 4: Spain utility from 2026-11-30T23:59:59+00:00 {message}",
    ]
    assert list(card.rates.values_list("rate", flat=True)) == [Decimal("0.0200")]


def test_c6_a_company_card_follows_the_company_zone_at_the_month_edge():
    # given a company in Madrid and its card
    madrid = CompanyFactory(billing_timezone="Europe/Madrid")
    card = rate_card_create(company=madrid, currency="EUR")
    with time_machine.travel(EDGE, tick=False):
        # November has ended in Madrid: from Madrid's December on only
        assert _errors(card, "Spain,utility,0.0200,EUR,2026-11-30T22:59:59Z\n") == [
            "line 2: Spain utility from 2026-11-30T22:59:59+00:00 would take effect "
            "in a month that has ended; new rates take effect from "
            "2026-11-30T23:00:00+00:00 on (the start of the month in progress), "
            "invoiced months are never repriced"
        ]
        assert _import(card, "Spain,utility,0.0200,EUR,2026-12-01T00:00:00+01:00\n")
        assert card.rates.count() == 1


def test_c6_a_price_list_rate_is_judged_in_the_strictest_zone_of_its_companies(card):
    # given EUR companies in UTC and Madrid; November has ended in Madrid only
    CompanyFactory(billing_timezone="UTC")
    CompanyFactory(billing_timezone="Europe/Madrid")
    with time_machine.travel(EDGE, tick=False):
        # still November in UTC, but Madrid's November has ended
        assert _errors(card, "Spain,utility,0.0200,EUR,2026-11-30T22:00:00Z\n")
        # from Madrid's December on (in UTC, later that day) is fine
        assert _import(card, "Spain,utility,0.0200,EUR,2026-11-30T23:00:00Z\n") == 1


def test_c6_a_price_list_rate_without_companies_is_judged_in_utc(card):
    with time_machine.travel(EDGE, tick=False):
        assert _import(card, "Spain,utility,0.0200,EUR,2026-11-15\n") == 1


@pytest.mark.parametrize(
    "instant", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
)
def test_an_instant_out_of_range_in_utc_is_a_line_error(card, instant):
    assert _errors(card, f"Spain,utility,0.0200,EUR,{instant}\n") == [
        f"line 2: effective_from '{instant}' is out of range"
    ]
    assert not card.rates.exists()


def _admin_import(card, text: str):
    staff = StaffUserFactory()
    staff.is_superuser = True
    staff.save()
    client = Client()
    client.force_login(staff)
    upload = SimpleUploadedFile("rates.csv", text.encode(), content_type="text/csv")
    return client.post(
        reverse("admin:billing_ratecard_import", args=[card.pk]), {"file": upload}
    )


def test_c6_the_admin_import_refuses_an_ended_month_and_an_out_of_range_instant(
    card,
):
    with time_machine.travel(datetime(2026, 12, 15, 10, tzinfo=UTC), tick=False):
        response = _admin_import(
            card,
            HEADER
            + "Spain,utility,6.0500,EUR,2026-11-10\n"
            + "Spain,utility,0.0200,EUR,0001-01-01T00:00:00+14:00\n"
            + "Spain,marketing,0.0615,EUR,2027-01-01\n",
        )
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "line 2: Spain utility from 2026-11-10 would take effect in a month that has "
        "ended" in html
    )
    assert (
        "line 3: effective_from &#x27;0001-01-01T00:00:00+14:00&#x27; is out of range"
        in html
    )
    assert "has 2 errors; nothing was imported." in html
    assert not card.rates.exists()
