"""What a send will cost if delivered now (the composer's cost preview): the
charge rules of a delivered message (C2-C6, F1-F3) applied to a message not yet
sent. The same functions price the invoice: ``charge_for`` and ``rate_category``
(the table ``billing.services.charges_sql`` joins) and ``tier_for`` (the tiers
``tier_spans`` cuts, ``billing.services.tiers_apply``)."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .charges import CONTRACT_TERMS, PolicyTerms, charge_for, rate_category
from .tiers import TIERED_CATEGORIES, Tier, tier_for


@dataclass(frozen=True)
class SendCost:
    category: str  # what the message is billed as (a template's, or "service")
    billable: bool
    reason: str  # a charges.Reason code, as the charge will carry
    rate_category: str  # the rate card category it is priced at
    amount: Decimal | None  # the charge; None: charged, but no rate is set yet
    tier: Tier | None  # the volume tier pricing it, if any (F3)


def send_cost(
    *,
    category: str,
    window_open: bool,
    entry_point: bool,
    rate: Decimal | None,
    terms: PolicyTerms = CONTRACT_TERMS,
    provider_entry_point: bool = False,
    tiers: Sequence[Tier] = (),
    position: int = 1,
) -> SendCost:
    """C2-C6, F1-F3: the charge of a message of ``category`` delivered now.

    ``window_open`` and ``entry_point`` are the windows (B1, F2) at delivery,
    ``terms`` the charge policy in force then, ``rate`` the rate card's rate for
    the recipient's market and ``rate_category(category)``, ``tiers`` the volume
    tiers of that market and category this month and ``position`` which charged
    message of theirs this month it would be (1-based). A free message costs 0;
    a charged one its tier's rate when a tier prices it, else ``rate``.
    """
    billable, reason = charge_for(
        category=category,
        window_open=window_open,
        terms=terms,
        entry_point=entry_point,
        provider_entry_point=provider_entry_point,
    )
    priced_as = rate_category(category, terms)
    if not billable:
        return SendCost(category, False, reason, priced_as, Decimal("0"), None)
    tier = tier_for(position, tiers) if category in TIERED_CATEGORIES else None
    amount = tier.rate if tier is not None else rate
    return SendCost(category, True, reason, priced_as, amount, tier)
