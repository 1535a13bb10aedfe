"""The charge policies every installation starts with (F1), seeded by migration
0005 and by tests that flush the database.

"Standard" is the contract (shared/PRICING_RULES.md C2-C5) and is in force for
every company until Customer Success assigns another. "Provider 2026-10" is the
provider's announced change (free-form and in-window utility messages charged at
the utility rate); it is created but assigned to nobody.
"""

from datetime import UTC, datetime

STANDARD = "Standard (contract rules C2-C5)"
PROVIDER_2026_10 = "Provider 2026-10: service and in-window utility charged"
SINCE_EVER = datetime(2000, 1, 1, tzinfo=UTC)

SEED = {
    STANDARD: {
        "description": (
            "Marketing and authentication templates are always charged; utility "
            "templates only when delivered outside the customer service window; "
            "free-form messages are free."
        ),
    },
    PROVIDER_2026_10: {
        "description": (
            "The provider's pricing announced for 2026-10-01: as Standard, and "
            "free-form (service) messages and utility templates delivered inside "
            "the window are charged at the market's utility rate."
        ),
        "utility_in_window": True,
        "service_in_window": True,
    },
}


def policies_seed(*, policy_model, assignment_model) -> None:
    """Create the seed policies and the default assignment; idempotent."""
    for name, fields in SEED.items():
        policy_model.objects.get_or_create(name=name, defaults=fields)
    if not assignment_model.objects.filter(company__isnull=True).exists():
        assignment_model.objects.create(
            company=None,
            policy=policy_model.objects.get(name=STANDARD),
            effective_from=SINCE_EVER,
            note="The contract's rules, the default for every company.",
        )
