"""Billing writes, one module per concern; every public service is importable from
``billing.services``.

- ``charges`` / ``charges_sql``: one charge per delivered template (C1-C7, F1, F2)
- ``tiers``: volume tiers applied to a draft (F3)
- ``license_fee``: the month's license fee (A5)
- ``invoices``: computing a draft, the month so far (D1-D3)
- ``documents``: numbering, finalize, mark paid, void (D2)
- ``credit_notes``: corrections of finalized invoices (D2)
- ``pricing``: charge policies and volume tiers Customer Success set (F1, F3)
- ``rate_cards``: rate cards and their CSV import and export (C6)
"""

from .charges import charges_sync
from .charges_sql import CHARGE_COLUMNS
from .credit_notes import credit_note_issue
from .documents import invoice_finalize, invoice_mark_paid, invoice_void
from .invoices import InvoicePreview, invoice_compute, invoice_preview
from .license_fee import LicenseFee, license_fee_compute
from .pricing import (
    POLICY_FIELDS,
    TIER_START_MAX,
    charge_policy_assign,
    charge_policy_create,
    charge_policy_update,
    volume_tiers_set,
)
from .rate_cards import (
    rate_card_create,
    rate_card_export,
    rate_card_import,
    rate_card_validate,
    rate_card_zones,
)
from .tiers import tiers_apply

__all__ = [
    "charges_sync",
    "CHARGE_COLUMNS",
    "rate_card_create",
    "rate_card_export",
    "rate_card_import",
    "rate_card_validate",
    "rate_card_zones",
    "tiers_apply",
    "LicenseFee",
    "license_fee_compute",
    "invoice_compute",
    "InvoicePreview",
    "invoice_preview",
    "invoice_finalize",
    "invoice_mark_paid",
    "invoice_void",
    "credit_note_issue",
    "charge_policy_assign",
    "POLICY_FIELDS",
    "charge_policy_create",
    "charge_policy_update",
    "TIER_START_MAX",
    "volume_tiers_set",
]
