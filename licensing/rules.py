"""License rules A1-A4 of shared/PRICING_RULES.md, as pure functions.

No ORM and no clock: every function takes plain values and the instant ``at``.
A history is a sequence of ``(effective_at, value)`` pairs in any order; equal
instants are resolved by position (a later entry wins), so callers pass
histories ordered by ``(effective_at, id)``.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
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
