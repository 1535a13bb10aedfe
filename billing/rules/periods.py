"""Billing months in a company's time zone (C7, D3) and the days of a month (A5).

``month_bounds`` and ``month_of`` live in the shared base ``accounts.periods``."""

import calendar
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from accounts.periods import month_bounds, month_of


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


def month_has_ended(month: date, *, at: datetime, zone: ZoneInfo) -> bool:
    """D3: whether billing ``month`` has ended at ``at`` in ``zone``.

    A month ends at local midnight of the first day of the next month, and has
    ended at that very instant (the periods are half-open). The one rule behind
    the scheduled run, ``run_billing``, the admin's "Run billing" and the rates
    that may no longer take effect (C6).
    """
    return month_bounds(month, zone)[1] <= at


def open_from(*, at: datetime, zones: Iterable[ZoneInfo]) -> datetime:
    """The first instant that lies in no month that has ended at ``at`` in any of
    ``zones``: the latest start, among them, of the month in progress.

    An instant ``t`` is earlier than this exactly when ``month_of(t, zone)`` has
    ended (``month_has_ended``) in some zone; computed without converting ``t``,
    so any instant compares, even one at the edge of the calendar.
    """
    return max(month_bounds(month_of(at, zone), zone)[0] for zone in zones)


def billing_start(
    *, created_at: datetime, first_facts: Iterable[datetime | None], zone: ZoneInfo
) -> date:
    """D3: the first month a company is billed for, in its zone: the month of its
    first billable fact (a license history row or a delivered message), never
    before the month it was created; the month it was created when it has none
    yet (its invoices are empty, D3 still gives it one per month)."""
    facts = [f for f in first_facts if f is not None]
    first = max(min(facts), created_at) if facts else created_at
    return month_of(first, zone)


def months_ended_since(start: date, *, at: datetime, zone: ZoneInfo) -> list[date]:
    """D3: every month from ``start`` on that has ended at ``at`` in ``zone``."""
    months = []
    month = date(start.year, start.month, 1)
    while month_has_ended(month, at=at, zone=zone):
        months.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months


def previous_month(at: datetime, zone) -> date:
    """The last month that has fully ended at ``at`` in ``zone``."""
    return month_of(at, zone) - relativedelta(months=1)
