"""Billing: markets, rate cards, charges (one per delivered template), invoices,
credit notes and gapless document sequences.

Charges are derived from messaging facts by ``charges_sync`` and may be rebuilt
until the invoice that billed them is finalized; from then on they are frozen.

One module per concern; every model is importable from ``billing.models``.
"""

from .alerts import MonthlyBudget, SpendAlert
from .charges import Charge
from .credit_notes import CreditNote, CreditNoteLine
from .emails import DocumentEmail
from .invoices import BillingRun, DocumentSequence, Invoice, InvoiceLine
from .issuer import Issuer
from .markets import Market, MarketPrefix
from .pricing import ChargeCategory, ChargePolicy, ChargePolicyAssignment, VolumeTier
from .rate_cards import Rate, RateCard
from .reconciliation import PricingDisagreement
from .usage import UsageChange, UsageSnapshot

__all__ = [
    "Market",
    "MarketPrefix",
    "RateCard",
    "Rate",
    "ChargeCategory",
    "ChargePolicy",
    "ChargePolicyAssignment",
    "VolumeTier",
    "Invoice",
    "InvoiceLine",
    "DocumentSequence",
    "BillingRun",
    "Charge",
    "Issuer",
    "CreditNote",
    "CreditNoteLine",
    "DocumentEmail",
    "MonthlyBudget",
    "SpendAlert",
    "PricingDisagreement",
    "UsageChange",
    "UsageSnapshot",
]
