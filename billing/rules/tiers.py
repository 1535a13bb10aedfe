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
