"""Billing rules A5, C1-C7 and D1 of shared/PRICING_RULES.md, as pure functions.

No ORM and no clock. ``charges_sync`` applies ``charge_for`` in SQL; a test
checks that both give the same answer for every combination.
"""

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from .money import ZERO, quantize_money

MARKETING = "marketing"
UTILITY = "utility"
AUTHENTICATION = "authentication"
OTHER_MARKET = "Other"


class Reason:
    """Why a delivered template is charged or free (D4)."""

    MARKETING = "charged_marketing"  # C2
    AUTHENTICATION = "charged_authentication"  # C4
    UTILITY_NO_WINDOW = "charged_utility_no_window"  # C3
    UTILITY_IN_WINDOW = "free_utility_in_window"  # C3


def charge_for(*, category: str, window_open: bool) -> tuple[bool, str]:
    """C2-C4: return (billable, reason) for a template delivered now.

    Only delivered templates reach this (C1); inbound and free-form messages
    are never charged (C5) and never become charges.
    """
    if category == MARKETING:
        return True, Reason.MARKETING
    if category == AUTHENTICATION:
        return True, Reason.AUTHENTICATION
    if category == UTILITY:
        if window_open:
            return False, Reason.UTILITY_IN_WINDOW
        return True, Reason.UTILITY_NO_WINDOW
    raise ValueError(f"Unknown template category {category!r}")


def market_for(wa_id: str, prefixes: Iterable[tuple[str, str]]) -> str:
    """C6: the market of the longest calling-code prefix of ``wa_id``, else Other.

    ``prefixes`` are (prefix digits, market) pairs in force at the instant.
    """
    best, market = -1, OTHER_MARKET
    for prefix, name in prefixes:
        if wa_id.startswith(prefix) and len(prefix) > best:
            best, market = len(prefix), name
    return market


# --- Billing months (C7) and license days (A5) ---------------------------------


def month_bounds(month: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC instants [start, end) of a calendar month in ``zone``."""
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    end = datetime(nxt.year, nxt.month, 1, tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def month_days(month: date, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Return each local day of the month as UTC [start, end) (23 or 25 h on DST days)."""
    days = calendar.monthrange(month.year, month.month)[1]
    utc = ZoneInfo("UTC")
    bounds = []
    for d in range(1, days + 1):
        start = datetime(month.year, month.month, d, tzinfo=zone)
        end_day = date(month.year, month.month, d) + timedelta(days=1)
        end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=zone)
        bounds.append((start.astimezone(utc), end.astimezone(utc)))
    return bounds


def month_of(at: datetime, zone: ZoneInfo) -> date:
    """C7: the billing month (first day) of an instant in the company's zone."""
    local = at.astimezone(zone)
    return date(local.year, local.month, 1)


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


# --- Invoice totals (D1) -----------------------------------------------------


def tax_amount(*, subtotal: Decimal, tax_rate: Decimal, currency: str) -> Decimal:
    """D1: tax on the sum of the rounded lines, itself rounded half-up."""
    return quantize_money(subtotal * tax_rate, currency)


def invoice_total(amounts: Iterable[Decimal]) -> Decimal:
    """D1: the total is the sum of the rounded lines."""
    return sum(amounts, ZERO)
