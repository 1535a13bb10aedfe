"""What a delivered message costs (C2-C5) under a charge policy's terms (F1), with
the free entry point (F2): ``charge_for`` and the category whose rate applies.

``billing.services.charges_sql`` evaluates ``charge_for`` for every input class and
joins the answers in SQL; a test checks both agree on every class."""

from dataclasses import dataclass

MARKETING = "marketing"
UTILITY = "utility"
AUTHENTICATION = "authentication"
SERVICE = "service"  # a free-form message, billed as a category only under F1
# The categories of a template (messaging's MessageTemplate.Category, tested
# equal) and what a delivered message is billed as (ChargeCategory).
TEMPLATE_CATEGORIES = (MARKETING, UTILITY, AUTHENTICATION)
CATEGORIES = (*TEMPLATE_CATEGORIES, SERVICE)

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
