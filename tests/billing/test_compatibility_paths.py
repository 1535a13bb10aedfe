"""The module paths integrators used before billing's services became a package
still lead to the same services (README, "Layout")."""

import billing.pricing
import billing.rate_cards
from billing import selectors, services


def test_billing_pricing_is_the_pricing_services_and_reads():
    for name in (
        "charge_policy_assign",
        "charge_policy_create",
        "charge_policy_update",
        "volume_tiers_set",
    ):
        assert getattr(billing.pricing, name) is getattr(services, name)
    for name in ("policy_periods", "tiers_in_force", "tiers_upcoming"):
        assert getattr(billing.pricing, name) is getattr(selectors, name)


def test_billing_rate_cards_is_the_rate_card_services():
    for name in ("rate_card_create", "rate_card_export", "rate_card_import"):
        assert getattr(billing.rate_cards, name) is getattr(services, name)
