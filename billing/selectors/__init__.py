"""Billing reads, one module per concern; every public read is importable from
``billing.selectors``.

- ``invoices``: invoices, lines and the charges behind them for the portal (D4)
- ``credit_notes``: an invoice's credit notes and one for the portal (D2)
- ``documents``: the invoice and credit note documents: issuer, customer, the
  context page and PDF share, customer statuses (F7)
- ``charges``: delivered messages and the facts a charge needs (C1, B1, C6, F2)
- ``pricing``: charge policies over time and volume tiers in force (F1, F3)
- ``runs``: months still to bill, drafts due for finalization (D3)
- ``alerts``: companies to check for spend alerts, a budget's state (F5)
- ``emails``: invoice and credit note emails to try again (D2)
- ``reconciliation``: pricing disagreements for the portal and the admin (F4)
- ``usage``: the month so far, read from its synced sums (D1-D3)
"""

from .alerts import BudgetStatus, ThresholdState, budget_status, spend_alerts_due
from .charges import (
    changed_messages,
    charge_facts,
    delivered_messages,
    has_referrals,
    market_segments_sql,
    other_market_id,
)
from .credit_notes import (
    credit_note_get,
    credit_note_lines,
    credit_note_list,
    credit_notes_of,
)
from .documents import (
    CUSTOMER_STATUS_CHOICES,
    CUSTOMER_STATUS_LABELS,
    credit_note_context,
    credit_note_document,
    customer_details,
    invoice_context,
    invoice_customer,
    invoice_customer_status,
    invoice_document,
    invoice_document_get,
    invoice_issued_on,
    invoice_issuer,
    invoice_list_documents,
    issuer_details,
    issuer_get,
    issuer_logo,
    issuer_logo_data_uri,
)
from .emails import document_emails_due
from .invoices import (
    billable_charges,
    charge_days,
    charge_groups,
    creditable_lines,
    daily_activity,
    daily_charges,
    free_charges,
    invoice_get,
    invoice_lines,
    invoice_list,
    line_charges,
    line_get,
    reason_text,
)
from .markets import markets_of_numbers
from .pricing import (
    PolicyPeriod,
    PolicyStep,
    charge_policy_billed,
    policy_periods,
    policy_terms,
    policy_timeline,
    tier_sets,
    tiers_in_force,
    tiers_upcoming,
)
from .reconciliation import (
    MonthSummary,
    disagreement_list,
    disagreement_months,
    invoice_disagreement_counts,
    unreviewed_count,
)
from .runs import drafts_due_for_finalization, months_to_bill
from .usage import MonthSoFar, Unpriced, month_so_far  # noqa: E402

__all__ = [
    "CUSTOMER_STATUS_CHOICES",
    "CUSTOMER_STATUS_LABELS",
    "credit_note_context",
    "credit_note_document",
    "customer_details",
    "invoice_customer",
    "invoice_issued_on",
    "invoice_issuer",
    "issuer_get",
    "invoice_context",
    "invoice_customer_status",
    "invoice_document",
    "invoice_document_get",
    "invoice_list_documents",
    "issuer_details",
    "issuer_logo",
    "issuer_logo_data_uri",
    "document_emails_due",
    "markets_of_numbers",
    "market_segments_sql",
    "other_market_id",
    "MonthSoFar",
    "Unpriced",
    "month_so_far",
    "charge_groups",
    "charge_days",
    "credit_notes_of",
    "credit_note_get",
    "credit_note_lines",
    "credit_note_list",
    "creditable_lines",
    "invoice_list",
    "invoice_get",
    "invoice_lines",
    "line_get",
    "line_charges",
    "free_charges",
    "billable_charges",
    "reason_text",
    "daily_activity",
    "daily_charges",
    "delivered_messages",
    "has_referrals",
    "changed_messages",
    "charge_facts",
    "PolicyStep",
    "policy_timeline",
    "policy_terms",
    "tier_sets",
    "charge_policy_billed",
    "PolicyPeriod",
    "policy_periods",
    "tiers_in_force",
    "tiers_upcoming",
    "months_to_bill",
    "drafts_due_for_finalization",
    "spend_alerts_due",
    "ThresholdState",
    "BudgetStatus",
    "budget_status",
    "unreviewed_count",
    "MonthSummary",
    "disagreement_months",
    "disagreement_list",
    "invoice_disagreement_counts",
]
