"""Compatibility path for integrators: the charge policy and volume tier services
live in ``billing.services.pricing`` and their reads in ``billing.selectors.pricing``;
both are importable from ``billing.services`` / ``billing.selectors``."""

from .selectors.pricing import (  # noqa: F401
    PolicyPeriod,
    charge_policy_billed,
    policy_periods,
    tiers_in_force,
    tiers_upcoming,
)
from .services.pricing import (  # noqa: F401
    charge_policy_assign,
    charge_policy_create,
    charge_policy_update,
    volume_tiers_set,
)
