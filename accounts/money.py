"""Money shown to people: the shared base every app formats amounts with.

An amount is a Decimal with its ISO 4217 currency, formatted by Babel in the
active language (1.234,50 € / €1,234.50). Pure: no ORM and no clock. The
``money`` template filter (``format_tags``, re-exported by ``billing_tags``)
and the admin pages call ``format_money``; rounding to the currency's minor
unit (D1) stays with billing (``billing.money``).
"""

from decimal import Decimal

from babel.numbers import format_currency
from django.utils import translation

_LOCALES = {"es": "es_ES", "en": "en_US"}


def active_locale() -> str:
    """The Babel locale of the active language (English when none is active)."""
    return _LOCALES.get((translation.get_language() or "en")[:2], "en_US")


def format_money(amount, currency: str) -> str:
    """Format ``amount`` in ``currency`` for the active language: 1.234,50 € / €1,234.50."""
    if amount is None or amount == "":
        return "—"
    return format_currency(Decimal(amount), currency, locale=active_locale())
