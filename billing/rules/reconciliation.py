"""Reconciliation (F4) as pure functions: what the provider's pricing object says about
one delivered message, and whether that disagrees with our own classification (its
``Charge``, or no charge for a free free-form message).

``billing.reconciliation.disagreements_sync`` applies them to every delivered message
of an invoice's month."""

from collections.abc import Mapping

from .charges import AUTHENTICATION, SERVICE

# The provider's pricing ``type`` of a message it charges (PMP); the others
# (free_customer_service, free_entry_point, …) are free.
PROVIDER_REGULAR = "regular"


# Provider categories that name one of ours differently (F4).
CATEGORY_ALIASES = {
    # Authentication to some markets has its own rate at the provider, but it is
    # still an authentication template for us: the market decides our rate.
    "authentication_international": AUTHENTICATION,
}


# Provider categories that are always free, whatever ``billable`` says: the
# conversation opened from an ad or a Facebook page (older, conversation-based).
FREE_CATEGORIES = {"referral_conversion": SERVICE}


# The longest provider value kept (hostile or new values are stored, not trusted).
MAX_VALUE_LENGTH = 40


class Kind:
    """What a disagreement is about (F4)."""

    # One side charges the message and the other does not.
    BILLABLE = "billable"
    # Both charge it, in different categories: the rate differs.
    CATEGORY = "category"

    ALL = (BILLABLE, CATEGORY)


def _text(value: object) -> str:
    return value[:MAX_VALUE_LENGTH] if isinstance(value, str) else ""


def provider_category(pricing: Mapping) -> str:
    """F4: the provider's category of a pricing object, in our names.

    ``authentication_international`` is authentication; ``referral_conversion``
    is a free service conversation; anything else is kept as sent (an unknown
    category charged by the provider then disagrees with ours).
    """
    category = _text(pricing.get("category")).strip().lower()
    category = CATEGORY_ALIASES.get(category, category)
    return FREE_CATEGORIES.get(category, category)


def provider_verdict(pricing: object) -> tuple[bool, str] | None:
    """F4: return (billable, category) of the provider's pricing object, or None
    when it says nothing usable (not a JSON object, neither ``billable`` nor
    ``type``): such a message is "not reported", never a disagreement.

    ``billable`` decides when it is a JSON boolean; otherwise the ``type``
    does: only ``regular`` is charged. A ``referral_conversion`` is free.
    """
    if not isinstance(pricing, Mapping):
        return None
    billable = pricing.get("billable")
    kind = pricing.get("type")
    if isinstance(billable, bool):
        charged = billable
    elif isinstance(kind, str):
        charged = kind.strip().lower() == PROVIDER_REGULAR
    else:
        return None
    raw = _text(pricing.get("category")).strip().lower()
    if raw in FREE_CATEGORIES:
        charged = False
    return charged, provider_category(pricing)


def provider_type(pricing: object) -> str:
    """The provider's pricing ``type`` as stored on a disagreement ("" if none)."""
    if not isinstance(pricing, Mapping):
        return ""
    return _text(pricing.get("type"))


def disagreement_kind(
    *,
    ours_billable: bool,
    ours_category: str,
    provider_billable: bool,
    provider_category: str,
) -> str | None:
    """F4: how our classification of a delivered message disagrees with the
    provider's: ``Kind.BILLABLE`` when one side charges it and the other does
    not, ``Kind.CATEGORY`` when both charge it in different categories (a
    different rate), None when they agree. The category of a free message does
    not matter: nobody pays for it.
    """
    if ours_billable != provider_billable:
        return Kind.BILLABLE
    if ours_billable and ours_category != provider_category:
        return Kind.CATEGORY
    return None


def pricing_disagreement(
    *, ours_billable: bool, ours_category: str, pricing: object
) -> tuple[str, bool, str] | None:
    """F4: return (kind, provider billable, provider category) when the
    provider's pricing object disagrees with ours; None when it agrees or
    reports nothing usable."""
    verdict = provider_verdict(pricing)
    if verdict is None:
        return None
    billable, category = verdict
    kind = disagreement_kind(
        ours_billable=ours_billable,
        ours_category=ours_category,
        provider_billable=billable,
        provider_category=category,
    )
    return None if kind is None else (kind, billable, category)
