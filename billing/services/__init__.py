"""Billing writes, one module per concern; every public service is importable from
``billing.services``.

- ``charges`` / ``charges_sql``: one charge per delivered template (C1-C7, F1, F2)
- ``tiers``: volume tiers applied to a draft (F3)
- ``send_cost``: the composer's cost preview, what a send will cost (C2-C6, F1-F3)
- ``license_fee``: the month's license fee (A5)
- ``invoices``: computing a draft, the month so far (D1-D3)
- ``documents``: numbering, finalize, mark paid, void (D2)
- ``emails``: finalized invoices and credit notes emailed to the billing contacts (D2)
- ``credit_notes``: corrections of finalized invoices (D2)
- ``pricing``: charge policies and volume tiers Customer Success set (F1, F3)
- ``rate_cards``: rate cards and their CSV import and export (C6)
- ``runs``: billing runs on demand, ``run_billing`` and the admin button (D3)
- ``alerts``: monthly budgets and spend alerts (F5)
- ``reconciliation``: pricing disagreements with the provider and their review (F4)
- ``usage``: the month so far kept up to date incrementally (D1-D3)
"""

from .alerts import (
    BUDGET_ERRORS,
    BUDGET_NOT_ALLOWED,
    budget_error_message,
    budget_set,
    budget_validate_amount,
    spend_alert_email_send,
    spend_alerts_check,
)
from .charges import charges_sync
from .charges_sql import CHARGE_COLUMNS, charge_planner, company_queries_planner
from .credit_notes import credit_note_issue
from .documents import invoice_finalize, invoice_mark_paid, invoice_void
from .emails import (
    document_email_message,
    document_email_send,
    document_emails_record,
)
from .invoices import (
    InvoicePreview,
    invoice_compute,
    invoice_preview,
    invoice_recompute,
)
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
    CATEGORIES,
    COLUMNS,
    RATE_MAX,
    rate_card_create,
    rate_card_export,
    rate_card_import,
    rate_card_validate,
    rate_card_zones,
    rate_parse,
)
from .reconciliation import (
    BATCH,
    GROUPS_PER_QUERY,
    REVIEWED_FACTS,
    disagreements_detect,
    disagreements_review,
    disagreements_sync,
)
from .runs import (
    MONTH_FORMAT,
    Outcome,
    RunResult,
    billing_run,
    billing_run_company,
    month_not_ended_message,
    month_parse,
    run_summary,
)
from .send_cost import SendCostPreview, send_cost_preview
from .tiers import tiers_apply
from .usage import (
    usage_changes_record,
    usage_fingerprint,
    usage_sync,
    usage_sync_due,
    usage_sync_soon,
)
from .usage_state import usage_snapshot_take

__all__ = [
    "SendCostPreview",
    "send_cost_preview",
    "document_email_message",
    "document_email_send",
    "document_emails_record",
    "invoice_recompute",
    "charges_sync",
    "CHARGE_COLUMNS",
    "charge_planner",
    "company_queries_planner",
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
    "COLUMNS",
    "CATEGORIES",
    "RATE_MAX",
    "rate_card_validate",
    "rate_card_create",
    "rate_card_export",
    "rate_parse",
    "rate_card_zones",
    "rate_card_import",
    "MONTH_FORMAT",
    "month_parse",
    "Outcome",
    "RunResult",
    "month_not_ended_message",
    "billing_run_company",
    "billing_run",
    "run_summary",
    "BUDGET_ERRORS",
    "BUDGET_NOT_ALLOWED",
    "budget_error_message",
    "budget_validate_amount",
    "budget_set",
    "spend_alerts_check",
    "spend_alert_email_send",
    "REVIEWED_FACTS",
    "GROUPS_PER_QUERY",
    "BATCH",
    "disagreements_detect",
    "disagreements_sync",
    "disagreements_review",
    "usage_sync",
    "usage_fingerprint",
    "usage_changes_record",
    "usage_sync_soon",
    "usage_sync_due",
    "usage_snapshot_take",
]
