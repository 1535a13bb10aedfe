"""Money and time formatting for the portal: the user's language, the company's zone."""

from decimal import Decimal

from babel.numbers import format_currency, format_decimal
from django import template
from django.utils import timezone, translation

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
    """A per-message rate with its four decimals."""
    if amount is None:
        return "—"
    return format_currency(
        Decimal(amount),
        currency,
        format="¤#,##0.0000",
        locale=_locale(),
        currency_digits=False,
    )


@register.filter
def number(value):
    if value is None:
        return "—"
    return format_decimal(Decimal(value).normalize(), locale=_locale())


@register.filter
def in_zone(value, zone):
    """Convert an aware datetime to the company's billing time zone."""
    if value is None:
        return None
    return timezone.localtime(value, zone)
