"""Invoices (D1-D3): computing a draft from the charges and the license fee, and the
month so far.

Everything here is idempotent: recomputing a draft with the same facts gives the same
lines, and finalized invoices never change."""

from dataclasses import dataclass
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from accounts.locks import company_lock
from accounts.models import Company

from .. import invoicing, rules, selectors
from ..exceptions import InvalidTransition
from ..models import (
    Charge,
    Invoice,
    InvoiceLine,
)
from .charges import charges_sync
from .charges_sql import company_queries_planner
from .license_fee import license_fee_compute
from .reconciliation import disagreements_sync
from .tiers import tiers_apply
from .usage_state import usage_snapshot_take


def _month_start(month: date) -> date:
    return date(month.year, month.month, 1)


def _invoice_recompute(*, company: Company, invoice: Invoice) -> Invoice:
    """Rebuild a draft's charges and lines from the facts. Caller holds the locks."""
    currency = company.billing_currency
    charges_sync(company=company, invoice=invoice, until=invoice.period_end)
    tiers_apply(company=company, invoice=invoice)
    groups = selectors.charge_groups(
        charges=Charge.objects.filter(invoice=invoice), zone=company.zone
    )
    invoicing.rate_missing_check(company=company, groups=groups)
    fee = license_fee_compute(company=company, month=invoice.month)
    totals = invoicing.invoice_totals(
        company=company, month=invoice.month, fee=fee, groups=groups
    )
    for line in totals.lines:
        line.invoice = invoice
    InvoiceLine.objects.filter(invoice=invoice).delete()
    InvoiceLine.objects.bulk_create(totals.lines)
    invoice.currency = currency
    invoice.tax_rate = company.tax_rate
    invoice.subtotal = totals.subtotal
    invoice.tax = totals.tax
    invoice.total = totals.total
    invoice.free_templates = totals.free_templates
    invoice.computed_at = timezone.now()
    invoice.save()
    # F4: as current as the charges; the late charges carried over (C7) are
    # looked at only when the lines have some.
    carried_over = any(group["orig"] != invoice.month for group in groups)
    disagreements_sync(invoice=invoice, carried_over=carried_over)
    return invoice


@transaction.atomic
def invoice_compute(*, company: Company, month: date) -> Invoice:
    """Compute (or recompute) the company's draft invoice of ``month`` (D1-D3).

    Creates the draft once (unique per company and month), recomputes it from
    the facts every time, and leaves a finalized invoice untouched.
    """
    if connection.vendor == "postgresql":
        # A draft is derived state: if a crash loses this commit, the next run
        # recomputes the same draft. Finalizing stays fully durable.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
    company_queries_planner()
    company = company_lock(company)
    # The month so far's sync rebuilds unbilled charges too: one at a time, and
    # it resyncs in full after this (charges move onto the draft).
    usage_snapshot_take(company=company, stale=True)
    month = _month_start(month)
    start, end = rules.month_bounds(month, company.zone)
    invoice, _ = Invoice.objects.get_or_create(
        company=company,
        month=month,
        defaults={
            "period_start": start,
            "period_end": end,
            "currency": company.billing_currency,
            "tax_rate": company.tax_rate,
        },
    )
    if invoice.is_frozen:
        return invoice
    return _invoice_recompute(company=company, invoice=invoice)


def invoice_recompute(*, invoice: Invoice) -> Invoice:
    """D2: recompute a draft from the facts; a finalized invoice never changes."""
    if invoice.is_frozen:
        raise InvalidTransition(
            f"{invoice}: it is {invoice.get_status_display().lower()}, and "
            "finalized invoices never change; correct it with a credit note."
        )
    return invoice_compute(company=invoice.company, month=invoice.month)


@dataclass(frozen=True)
class InvoicePreview:
    invoice: Invoice
    lines: list[InvoiceLine]
    extra: object = None


def invoice_preview(*, company: Company, month: date, collect=None) -> InvoicePreview:
    """Compute the month so far with the same code as the invoice, then roll back.

    The preview equals the final invoice for the same facts, and nothing is saved.
    ``collect(invoice)`` may read more from the computed state before the rollback.
    """

    class _Rollback(Exception):
        pass

    result: list[InvoicePreview] = []
    try:
        with transaction.atomic():
            invoice = invoice_compute(company=company, month=month)
            result.append(
                InvoicePreview(
                    invoice=invoice,
                    lines=list(invoice.lines.select_related("market")),
                    extra=collect(invoice) if collect else None,
                )
            )
            raise _Rollback
    except _Rollback:
        pass
    return result[0]
