"""Billing's rules of shared/PRICING_RULES.md (A5, C1-C7, D1-D3) and of the
product's own pricing (F1 charge policies, F2 free entry points, F3 volume tiers,
F4 reconciliation, F5 spend alerts), as pure functions: no ORM, no clock.

One module per rule family; every name is importable from ``billing.rules``:

- ``charges``: what a delivered message costs (C2-C5, F1, F2), ``charge_for``
- ``policies``: which charge policy is in force (F1)
- ``tiers``: volume tiers (F3), ``tier_for``
- ``send_cost``: what a send will cost if delivered now (C2-C6, F1-F3), ``send_cost``
- ``markets``: the recipient's market (C6), ``market_for``
- ``periods``: billing months in a zone (C7, D3), days of a month (A5)
- ``license_fee``: the prorated license fee (A5)
- ``invoices``: tax and totals (D1)
- ``documents``: due dates and the status a customer reads (F7)
- ``alerts``: spend alert thresholds and budgets (F5)
- ``reconciliation``: the provider's pricing verdict against ours (F4)
"""

from accounts.periods import month_bounds, month_of
from messaging.rules import (
    ENTRY_POINT_ANSWER_WITHIN,
    ENTRY_POINT_FREE_FOR,
    entry_point_window,
)

from .alerts import (
    BUDGET_LIMIT,
    THRESHOLDS,
    BudgetProblem,
    budget_amount_problem,
    budget_used,
    thresholds_crossed,
)
from .charges import (
    AUTHENTICATION,
    CATEGORIES,
    CONTRACT_TERMS,
    MARKETING,
    PROVIDER_FREE_ENTRY_POINT,
    SERVICE,
    TEMPLATE_CATEGORIES,
    UTILITY,
    PolicyTerms,
    Reason,
    charge_for,
    rate_category,
)
from .documents import (
    PAYMENT_TERMS_MAX_DAYS,
    Balance,
    CustomerStatus,
    customer_status,
    due_date,
    invoice_balance,
    is_overdue,
    local_date,
)
from .invoices import amount_due, invoice_total, tax_amount
from .license_fee import LicenseDay, LicenseSegment, license_fee, license_segments
from .markets import OTHER_MARKET, market_for
from .periods import (
    billing_start,
    month_days,
    month_has_ended,
    months_ended_since,
    open_from,
    previous_month,
)
from .policies import policy_editable, policy_in_force, policy_segments
from .reconciliation import (
    CATEGORY_ALIASES,
    FREE_CATEGORIES,
    MAX_VALUE_LENGTH,
    PROVIDER_REGULAR,
    Kind,
    disagreement_kind,
    pricing_disagreement,
    provider_category,
    provider_type,
    provider_verdict,
)
from .send_cost import SendCost, send_cost
from .tiers import TIERED_CATEGORIES, Tier, tier_for, tier_spans

__all__ = [
    "PAYMENT_TERMS_MAX_DAYS",
    "Balance",
    "CustomerStatus",
    "customer_status",
    "due_date",
    "invoice_balance",
    "is_overdue",
    "local_date",
    "month_bounds",
    "month_of",
    "ENTRY_POINT_ANSWER_WITHIN",
    "ENTRY_POINT_FREE_FOR",
    "entry_point_window",
    "MARKETING",
    "UTILITY",
    "AUTHENTICATION",
    "SERVICE",
    "CATEGORIES",
    "TEMPLATE_CATEGORIES",
    "PROVIDER_FREE_ENTRY_POINT",
    "Reason",
    "PolicyTerms",
    "CONTRACT_TERMS",
    "charge_for",
    "rate_category",
    "policy_editable",
    "policy_in_force",
    "policy_segments",
    "TIERED_CATEGORIES",
    "Tier",
    "tier_for",
    "tier_spans",
    "SendCost",
    "send_cost",
    "OTHER_MARKET",
    "market_for",
    "month_days",
    "month_has_ended",
    "open_from",
    "billing_start",
    "months_ended_since",
    "previous_month",
    "LicenseDay",
    "LicenseSegment",
    "license_fee",
    "license_segments",
    "tax_amount",
    "invoice_total",
    "amount_due",
    "THRESHOLDS",
    "BUDGET_LIMIT",
    "BudgetProblem",
    "thresholds_crossed",
    "budget_used",
    "budget_amount_problem",
    "PROVIDER_REGULAR",
    "CATEGORY_ALIASES",
    "FREE_CATEGORIES",
    "MAX_VALUE_LENGTH",
    "Kind",
    "provider_category",
    "provider_verdict",
    "provider_type",
    "disagreement_kind",
    "pricing_disagreement",
]
