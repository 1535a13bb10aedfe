"""The license fee of a month (A5): the highest count in force each day, prorated."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ..money import ZERO


@dataclass(frozen=True)
class LicenseDay:
    count: int  # the highest purchased count in force at any moment of the day
    price: Decimal  # the monthly price per license in force that day


@dataclass(frozen=True)
class LicenseSegment:
    count: int
    price: Decimal
    days: int


def license_fee(days: Sequence[LicenseDay]) -> Decimal:
    """A5: price × Σ(licenses purchased that day) ÷ days in month, unrounded.

    With one price all month this is exactly the contract's formula; when the
    price changes mid-month each day is charged at that day's price (the one in
    force at the end of the day). A full month at N licenses costs exactly N × price.
    """
    if not days:
        return ZERO
    total = sum((d.price * d.count for d in days), ZERO)
    return total / len(days)


def license_segments(days: Sequence[LicenseDay]) -> list[LicenseSegment]:
    """Group consecutive days with the same count and price, for the explanation."""
    segments: list[LicenseSegment] = []
    for day in days:
        last = segments[-1] if segments else None
        if last and (last.count, last.price) == (day.count, day.price):
            segments[-1] = LicenseSegment(last.count, last.price, last.days + 1)
        else:
            segments.append(LicenseSegment(day.count, day.price, 1))
    return segments
