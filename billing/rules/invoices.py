"""Invoice totals (D1): tax on the rounded subtotal, totals as sums of rounded lines."""

from collections.abc import Iterable
from decimal import Decimal

from ..money import ZERO, quantize_money


def tax_amount(*, subtotal: Decimal, tax_rate: Decimal, currency: str) -> Decimal:
    """D1: tax on the sum of the rounded lines, itself rounded half-up."""
    return quantize_money(subtotal * tax_rate, currency)


def invoice_total(amounts: Iterable[Decimal]) -> Decimal:
    """D1: the total is the sum of the rounded lines."""
    return sum(amounts, ZERO)


def amount_due(*, total: Decimal, credits: Iterable[Decimal]) -> Decimal:
    """D2: what is left to pay of an invoice after its credit notes, never below 0."""
    return max(total - sum(credits, ZERO), ZERO)
