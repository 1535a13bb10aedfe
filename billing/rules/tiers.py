"""Volume tiers (F3): graduated rates for the n-th charged message of a month."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .charges import AUTHENTICATION, UTILITY

TIERED_CATEGORIES = (UTILITY, AUTHENTICATION)  # F3


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


def tier_spans(
    tiers: Sequence[Tier], *, already: int, count: int
) -> list[tuple[Tier, int, int]]:
    """F3: which of ``count`` charged messages each tier prices, as zero-based
    spans ``[lo, hi)`` of them in delivery order, when ``already`` charged
    messages of the month came first (on finalized invoices, C7). Message ``i``
    is the month's ``already + i + 1``-th: inside a tier's span exactly when
    ``tier_for`` gives that tier for it; before every span the rate card applies.
    """
    ordered = sorted(tiers, key=lambda t: t.from_message)
    spans = []
    for n, tier in enumerate(ordered):
        lo = max(tier.from_message - already - 1, 0)
        following = ordered[n + 1].from_message if n + 1 < len(ordered) else None
        hi = count if following is None else min(following - already - 1, count)
        if lo < hi:
            spans.append((tier, lo, hi))
    return spans
