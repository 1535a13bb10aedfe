"""Billing rules A5, C1-C7 and D1 of shared/PRICING_RULES.md and F1-F3 of issue 8
(charge policies, free entry points, volume tiers), as pure functions.

No ORM and no clock. ``charges_sync`` applies ``charge_for`` in SQL; a test
checks that both give the same answer for every combination.
"""

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from accounts.periods import (  # noqa: F401 - C7 months, re-exported for billing
    month_bounds,
    month_of,
)
from messaging.rules import (  # noqa: F401 - F2 rules, re-exported for billing
    ENTRY_POINT_ANSWER_WITHIN,
    ENTRY_POINT_FREE_FOR,
    entry_point_window,
)

from .money import ZERO, quantize_money

MARKETING = "marketing"
UTILITY = "utility"
AUTHENTICATION = "authentication"
OTHER_MARKET = "Other"


SERVICE = "service"  # a free-form message, billed as a category only under F1
CATEGORIES = (MARKETING, UTILITY, AUTHENTICATION, SERVICE)
TIERED_CATEGORIES = (UTILITY, AUTHENTICATION)  # F3

# F2: the free entry point window is a window of the conversation, defined with
# the customer service window in messaging.rules; the provider's own verdict
# (pricing.type) is respected too.
PROVIDER_FREE_ENTRY_POINT = "free_entry_point"


class Reason:
    """Why a delivered message is charged or free (D4)."""

    MARKETING = "charged_marketing"  # C2
    AUTHENTICATION = "charged_authentication"  # C4
    UTILITY_NO_WINDOW = "charged_utility_no_window"  # C3
    UTILITY_IN_WINDOW = "free_utility_in_window"  # C3
    UTILITY_IN_WINDOW_CHARGED = "charged_utility_in_window"  # F1
    SERVICE = "charged_service"  # F1
    SERVICE_FREE = "free_service"  # C5
    FREE_BY_POLICY = "free_by_policy"  # F1
    ENTRY_POINT = "free_entry_point"  # F2
    PROVIDER_ENTRY_POINT = "free_entry_point_provider"  # F2


@dataclass(frozen=True)
class PolicyTerms:
    """F1: which categories a charge policy charges inside and outside the window.

    The defaults are the contract (C2-C5). Free-form messages can only be sent
    inside the window (B3), so one setting covers them wherever delivered.
    """

    marketing_in_window: bool = True
    marketing_outside_window: bool = True
    utility_in_window: bool = False
    utility_outside_window: bool = True
    authentication_in_window: bool = True
    authentication_outside_window: bool = True
    service_in_window: bool = False
    service_rate_category: str = UTILITY

    def charges(self, category: str, *, window_open: bool) -> bool:
        if category == SERVICE:
            return self.service_in_window
        if category not in CATEGORIES:
            raise ValueError(f"Unknown category {category!r}")
        where = "in_window" if window_open else "outside_window"
        return getattr(self, f"{category}_{where}")


CONTRACT_TERMS = PolicyTerms()


def charge_for(
    *,
    category: str,
    window_open: bool,
    terms: PolicyTerms = CONTRACT_TERMS,
    entry_point: bool = False,
    provider_entry_point: bool = False,
) -> tuple[bool, str]:
    """C2-C5, F1, F2: return (billable, reason) for an outbound message delivered now.

    Only delivered messages reach this (C1); inbound messages are never charged.
    A free entry point window (ours or the provider's verdict) makes any message
    free (F2); otherwise the policy in force at delivery decides (F1), and the
    default policy is the contract.
    """
    if category not in CATEGORIES:
        raise ValueError(f"Unknown template category {category!r}")
    if category == SERVICE and not terms.service_in_window:
        return False, Reason.SERVICE_FREE  # C5: free whatever else applies
    if entry_point:
        return False, Reason.ENTRY_POINT
    if provider_entry_point:
        return False, Reason.PROVIDER_ENTRY_POINT
    charged = terms.charges(category, window_open=window_open)
    if category == SERVICE:
        return (True, Reason.SERVICE) if charged else (False, Reason.SERVICE_FREE)
    if category == UTILITY:
        if window_open:
            if charged:
                return True, Reason.UTILITY_IN_WINDOW_CHARGED
            return False, Reason.UTILITY_IN_WINDOW
        if charged:
            return True, Reason.UTILITY_NO_WINDOW
        return False, Reason.FREE_BY_POLICY
    if not charged:
        return False, Reason.FREE_BY_POLICY
    return True, Reason.MARKETING if category == MARKETING else Reason.AUTHENTICATION


def rate_category(category: str, terms: PolicyTerms = CONTRACT_TERMS) -> str:
    """C6, F1: the rate card category a charged message is priced at."""
    return terms.service_rate_category if category == SERVICE else category


def policy_editable(*, billed_on_finalized_invoice: bool) -> bool:
    """F1, D2: a charge policy's terms may change only until a finalized invoice
    was billed under them (its totals must stay explainable by the terms)."""
    return not billed_on_finalized_invoice


def policy_in_force(
    *,
    own: Sequence[tuple[datetime, int]],
    default: Sequence[tuple[datetime, int]],
    at: datetime,
) -> int | None:
    """F1: the policy (id) in force at ``at``: the company's latest assignment
    effective by then, else the latest default one, else None (the contract)."""
    for assignments in (own, default):
        started = [(since, pk) for since, pk in assignments if since <= at]
        if started:
            return max(started)[1]
    return None


def policy_segments(
    *,
    own: Sequence[tuple[datetime, int]],
    default: Sequence[tuple[datetime, int]],
) -> list[tuple[datetime | None, int | None]]:
    """F1: the policy timeline as (from, policy) steps, the first from the
    beginning of time (None); each policy applies until the next step."""
    steps: list[tuple[datetime | None, int | None]] = [(None, None)]
    for since in sorted({s for s, _ in own} | {s for s, _ in default}):
        policy = policy_in_force(own=own, default=default, at=since)
        if policy != steps[-1][1]:
            steps.append((since, policy))
    return steps


@dataclass(frozen=True)
class Tier:
    from_message: int  # the first charged message of the month it prices (1-based)
    rate: Decimal
    id: int | None = None


def tier_for(position: int, tiers: Sequence[Tier]) -> Tier | None:
    """F3: the graduated tier pricing the ``position``-th charged message of the
    month (1-based): the one with the highest start at or below it; None before
    the first tier (the rate card applies)."""
    best = None
    for tier in tiers:
        if tier.from_message <= position and (
            best is None or tier.from_message > best.from_message
        ):
            best = tier
    return best


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
# month_bounds and month_of live in accounts.periods (imported above).


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
