"""Billing months (PRICING_RULES C7): the shared base every app cuts periods with.

A company's month is a calendar month in its billing time zone, half-open
[start, end) and given as UTC instants. Pure functions: no ORM and no clock,
the instant is always passed in. licensing (license insight) and billing
(invoices, runs, alerts) use these; ``billing.rules`` re-exports them.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo


def month_bounds(month: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC instants [start, end) of a calendar month in ``zone``."""
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    end = datetime(nxt.year, nxt.month, 1, tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def month_of(at: datetime, zone: ZoneInfo) -> date:
    """C7: the billing month (first day) of an instant in the company's zone."""
    local = at.astimezone(zone)
    return date(local.year, local.month, 1)
