"""Money and time formatting for the portal: the user's language, the company's zone."""

from datetime import datetime
from decimal import Decimal

from babel import Locale
from babel.numbers import format_currency, format_decimal, format_percent, parse_pattern
from django import template
from django.utils import timezone, translation

from billing.money import RATE_DECIMAL_PLACES

register = template.Library()

_LOCALES = {"es": "es_ES", "en": "en_US"}


def _locale() -> str:
    return _LOCALES.get((translation.get_language() or "en")[:2], "en_US")


@register.filter
def money(amount, currency):
    """Format ``amount`` in ``currency`` for the active language: 1.234,50 € / €1,234.50."""
    if amount is None or amount == "":
        return "—"
    return format_currency(Decimal(amount), currency, locale=_locale())


@register.filter
def rate(amount, currency):
    """A per-message rate with its four decimals, in the language's currency pattern."""
    if amount is None:
        return "—"
    locale = Locale.parse(_locale())
    pattern = parse_pattern(locale.currency_formats["standard"].pattern)
    pattern.frac_prec = (RATE_DECIMAL_PLACES, RATE_DECIMAL_PLACES)
    return pattern.apply(
        Decimal(amount), locale, currency=currency, currency_digits=False
    )


@register.filter
def percent(fraction):
    """A tax rate stored as a fraction (0.21), shown as a percentage (21 %)."""
    return format_percent(Decimal(fraction), format="#,##0.##%", locale=_locale())


@register.filter
def category_label(code):
    """The translated name of a template category code ("utility" → "Utilidad")."""
    from billing.models import ChargeCategory

    try:
        return ChargeCategory(code).label
    except ValueError:
        return code


@register.filter
def number(value):
    if value is None:
        return "—"
    return format_decimal(Decimal(value).normalize(), locale=_locale())


class ZoneTime(datetime):
    """An aware datetime that template filters such as ``date`` leave in its own
    zone (they convert aware values to the active time zone, UTC here)."""

    convert_to_local_time = False


@register.filter
def in_zone(value, zone):
    """Convert an aware datetime to the company's billing time zone, and keep it
    there through the ``date`` filter that usually follows."""
    if value is None:
        return None
    local = timezone.localtime(value, zone)
    return ZoneTime(
        local.year,
        local.month,
        local.day,
        local.hour,
        local.minute,
        local.second,
        local.microsecond,
        tzinfo=local.tzinfo,
        fold=local.fold,
    )


@register.filter
def line_label(line) -> str:
    """A usage line's name in the reader's language (the stored one is English)."""
    from django.utils.formats import date_format, number_format
    from django.utils.translation import gettext as _

    from billing.models import InvoiceLine

    names = {"category": category_label(line.category), "market": line.market.name}
    if line.category == "service":
        title = _("Free-form messages, %(market)s") % names
    else:
        title = _("%(category)s templates, %(market)s") % names
    tier_from = (line.details or {}).get("tier_from_message")
    if tier_from:
        title += " " + _("(volume tier from message %(n)s of the month)") % {
            "n": number_format(tier_from, force_grouping=True)
        }
    if line.kind == InvoiceLine.Kind.CARRIED_OVER:
        month = date_format(line.original_month, "YEAR_MONTH_FORMAT")
        return _("Carried over from %(month)s: %(line)s") % {
            "month": month,
            "line": title,
        }
    return title
