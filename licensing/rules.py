"""License rules A1-A4 of shared/PRICING_RULES.md, as pure functions.

No ORM and no clock: every function takes plain values and the instant ``at``.
A history is a sequence of ``(effective_at, value)`` pairs in any order; equal
instants are resolved by position (a later entry wins), so callers pass
histories ordered by ``(effective_at, id)``.

The license insight rules (idle licenses, what revoking them saves, the week of
an idle notice) are this product's own policy, appended at the end.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

T = TypeVar("T")

History = Sequence[tuple[datetime, T]]


def _ordered(history: Iterable[tuple[datetime, T]]) -> list[tuple[datetime, T]]:
    # sorted() is stable: entries at the same instant keep their given order.
    return sorted(history, key=lambda item: item[0])


def value_in_force(
    history: Iterable[tuple[datetime, T]], *, at: datetime, default: T
) -> T:
    """Return the value of the latest entry effective at or before ``at`` (A1, A2)."""
    value = default
    for effective_at, entry in _ordered(history):
        if effective_at > at:
            break
        value = entry
    return value


def count_max_between(
    history: Iterable[tuple[datetime, int]], *, start: datetime, end: datetime
) -> int:
    """Return the highest count in force at any moment of ``[start, end)`` (A5)."""
    ordered = _ordered(history)
    highest = value_in_force(ordered, at=start, default=0)
    for effective_at, count in ordered:
        if start < effective_at < end:
            highest = max(highest, count)
    return highest


def seat_limit_from(history: Iterable[tuple[datetime, int]], *, at: datetime) -> int:
    """Return the lowest purchased count in force from ``at`` on (A3).

    Scheduled future decreases count too: assignments made now must still fit
    when a lower count takes effect later.
    """
    ordered = _ordered(history)
    limit = value_in_force(ordered, at=at, default=0)
    for effective_at, count in ordered:
        if effective_at > at:
            limit = min(limit, count)
    return limit


def seats_free(*, purchased: int, assigned: int) -> int:
    """Return how many more licenses can be assigned (never negative)."""
    return max(purchased - assigned, 0)


def assignment_fits(*, purchased: int, assigned: int, requested: int) -> bool:
    """Return whether ``requested`` new assignments fit as a whole (A3)."""
    return assigned + requested <= purchased


def license_is_active(
    *, assigned_at: datetime, revoked_at: datetime | None, at: datetime
) -> bool:
    """Return whether an assignment is in force at ``at``; revocation is immediate."""
    return assigned_at <= at and (revoked_at is None or at < revoked_at)


def may_send(*, user_is_active: bool, holds_license: bool) -> bool:
    """A4: only an active user holding a license at that instant may send."""
    return user_is_active and holds_license


# --- License insight: idle licenses -------------------------------------------

# A license is idle when its holder has sent nothing for this long, and it has
# been held at least this long (a license assigned yesterday is not idle).
IDLE_AFTER = timedelta(days=30)


def idle_cutoff(*, at: datetime, idle_after: timedelta = IDLE_AFTER) -> datetime:
    """Return the latest instant a send (or the assignment) may have happened for
    a license to be idle at ``at``; exactly ``idle_after`` ago counts as idle.

    Queries filter with ``<= idle_cutoff(...)`` so they agree with
    ``license_is_idle`` at the boundary.
    """
    return at - idle_after


def license_is_idle(
    *,
    assigned_at: datetime,
    last_sent_at: datetime | None,
    at: datetime,
    idle_after: timedelta = IDLE_AFTER,
) -> bool:
    """Return whether a license held since ``assigned_at`` is idle at ``at``.

    Idle: held for at least ``idle_after`` and its holder's last send (any time,
    also before this assignment; ``None`` for never) is at least ``idle_after``
    old. Exactly ``idle_after`` is idle; one second less is not.
    """
    cutoff = idle_cutoff(at=at, idle_after=idle_after)
    if assigned_at > cutoff:
        return False
    return last_sent_at is None or last_sent_at <= cutoff


def idle_saving(*, idle_count: int, monthly_price: Decimal | None) -> Decimal | None:
    """Return the monthly saving of revoking ``idle_count`` licenses (A2 price each).

    ``None`` when the company has no license price; not rounded (the caller
    formats it in the billing currency). Revoking saves the fee only once the
    purchased count is lowered too; the figure is the fee those licenses cost.
    """
    if isinstance(idle_count, bool) or not isinstance(idle_count, int):
        raise TypeError(f"idle_count must be an int, not {idle_count!r}")
    if idle_count < 0:
        raise ValueError(f"idle_count cannot be negative ({idle_count})")
    if monthly_price is None:
        return None
    if not isinstance(monthly_price, Decimal):
        raise TypeError(f"A price must be Decimal, not {type(monthly_price).__name__}")
    return monthly_price * idle_count


def iso_week_start(*, at: datetime) -> date:
    """Return the Monday (UTC) of the ISO week of ``at``: one idle notice per week."""
    day = at.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())
