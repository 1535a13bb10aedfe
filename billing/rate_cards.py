"""Compatibility path for integrators: the rate card services (CSV import and
export, C6) live in ``billing.services.rate_cards`` and are importable from
``billing.services``."""

from .services.rate_cards import (  # noqa: F401
    COLUMNS,
    rate_card_create,
    rate_card_export,
    rate_card_import,
    rate_card_validate,
    rate_parse,
)
