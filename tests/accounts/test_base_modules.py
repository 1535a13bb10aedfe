"""The shared base in the lowest app: billing months (accounts.periods) and money
formatting (accounts.money, the ``format_tags`` filters), used by licensing and
billing alike; billing's public names keep pointing at the same functions."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.template import engines
from django.utils import translation

from accounts import money, periods
from accounts.templatetags import format_tags


def test_billing_rules_reexport_the_base_months():
    from billing import rules

    assert rules.month_bounds is periods.month_bounds
    assert rules.month_of is periods.month_of


def test_month_of_and_bounds_in_the_company_zone():
    madrid = ZoneInfo("Europe/Madrid")
    at = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 November in Madrid
    assert periods.month_of(at, madrid) == date(2026, 11, 1)
    assert periods.month_bounds(date(2026, 11, 1), madrid) == (
        datetime(2026, 10, 31, 23, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 23, 0, tzinfo=UTC),
    )


def test_billing_tags_money_and_in_zone_are_the_shared_filters():
    from billing.templatetags import billing_tags

    assert billing_tags.money is format_tags.money
    assert billing_tags.in_zone is format_tags.in_zone
    assert billing_tags.register.filters["money"] is format_tags.money
    assert billing_tags.register.filters["in_zone"] is format_tags.in_zone


def test_money_formats_in_the_active_language_from_either_library():
    django = engines["django"]
    source = '{%% load %s %%}{{ amount|money:"EUR" }}'
    context = {"amount": Decimal("1234.5")}
    with translation.override("es"):
        assert money.format_money(Decimal("1234.5"), "EUR") == "1.234,50\xa0€"
        for library in ("format_tags", "billing_tags"):
            rendered = django.from_string(source % library).render(context)
            assert rendered == "1.234,50\xa0€"
    with translation.override("en"):
        assert money.format_money(Decimal("1234.5"), "EUR") == "€1,234.50"
    assert money.format_money(None, "EUR") == "—"
