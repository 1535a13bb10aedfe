"""Money helpers: Decimal amounts with an explicit ISO 4217 currency."""

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision

MONEY_MAX_DIGITS = 16
MONEY_DECIMAL_PLACES = 4  # stored; amounts are rounded to the currency on invoices
RATE_DECIMAL_PLACES = 4  # C6: rates have four decimal places
RATE_QUANTUM = Decimal("0.0001")
ZERO = Decimal("0")


def currency_exponent(currency: str) -> int:
    """Return the ISO 4217 minor-unit exponent (EUR 2, JPY 0, CLP 0, KWD 3)."""
    return get_currency_precision(currency.upper())


def quantize_money(amount: Decimal, currency: str) -> Decimal:
    """D1: round half-up to the currency's minor unit."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"Money must be Decimal, not {type(amount).__name__}")
    quantum = Decimal(1).scaleb(-currency_exponent(currency))
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


def money_text(amount: Decimal | None, currency: str) -> str:
    """An amount as plain text in its currency's minor unit, "1234.50 EUR": for
    the admin, the command line and refusal messages. Pages and documents people
    read format with ``accounts.money.format_money`` in their language."""
    if amount is None:
        return "–"
    return f"{quantize_money(amount, currency)} {currency}"
