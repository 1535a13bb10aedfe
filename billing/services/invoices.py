"""Invoices (D1-D3): computing a draft from the charges and the license fee, and the
month so far.

Everything here is idempotent: recomputing a draft with the same facts gives the same
lines, and finalized invoices never change."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import (
    Count,
    F,
)
from django.db.models.functions import (
    TruncMonth,
)
from django.utils import timezone

from accounts.locks import company_lock
from accounts.models import Company

from .. import rules
from ..exceptions import InvalidTransition, RateMissing
from ..models import (
    Charge,
    Invoice,
    InvoiceLine,
)
from ..money import quantize_money
from .charges import charges_sync
from .license_fee import license_fee_compute
from .reconciliation import disagreements_sync
from .tiers import tiers_apply


def _month_start(month: date) -> date:
    return date(month.year, month.month, 1)


# The rate card's messages (no tier) first, on every database.
_TIER_ORDER = F("tier__from_message").asc(nulls_first=True)


def _usage_lines(invoice: Invoice, currency: str, zone) -> list[InvoiceLine]:
    """D1: one line per (category, market, rate): count × rate, rounded; carried-over
    charges (C7) get their own lines naming the month they were delivered in."""
    billable = Charge.objects.filter(invoice=invoice, billable=True)
    lines = []
    group = (
        "category",
        "market_id",
        "market__name",
        "rate",
        "tier_id",
        "tier__from_message",
    )
    current = (
        billable.filter(delivered_at__gte=invoice.period_start)
        .values(*group)
        .annotate(n=Count("id"))
        .order_by("category", "market__name", _TIER_ORDER, "rate")
    )
    for row in current:
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.USAGE,
                description=_usage_description(row),
                category=row["category"],
                market_id=row["market_id"],
                quantity=Decimal(row["n"]),
                unit_price=row["rate"],
                amount=quantize_money(row["rate"] * row["n"], currency),
                details=_tier_details(row),
            )
        )
    carried = (
        billable.filter(delivered_at__lt=invoice.period_start)
        .annotate(orig=TruncMonth("delivered_at", tzinfo=zone))
        .values("orig", *group)
        .annotate(n=Count("id"))
        .order_by("orig", "category", "market__name", _TIER_ORDER, "rate")
    )
    for row in carried:
        orig = row["orig"]
        orig_month = date(orig.year, orig.month, 1)
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.CARRIED_OVER,
                description=f"Carried over from {orig_month:%B %Y}: "
                + _usage_description(row, lower=True),
                category=row["category"],
                market_id=row["market_id"],
                quantity=Decimal(row["n"]),
                unit_price=row["rate"],
                amount=quantize_money(row["rate"] * row["n"], currency),
                original_month=orig_month,
                details=_tier_details(row),
            )
        )
    return lines


def _usage_description(row: dict, *, lower: bool = False) -> str:
    if row["category"] == rules.SERVICE:
        text = f"{'f' if lower else 'F'}ree-form messages, {row['market__name']}"
    else:
        category = row["category"] if lower else row["category"].capitalize()
        text = f"{category} templates, {row['market__name']}"
    if row["tier_id"]:
        text += (
            f" (volume tier from message {row['tier__from_message']:,} of the month)"
        )
    return text


def _tier_details(row: dict) -> dict:
    """F3: which tier priced the line's messages (none: the rate card)."""
    if not row["tier_id"]:
        return {}
    return {"tier_id": row["tier_id"], "tier_from_message": row["tier__from_message"]}


def _invoice_recompute(*, company: Company, invoice: Invoice) -> Invoice:
    """Rebuild a draft's charges and lines from the facts. Caller holds the locks."""
    currency = company.billing_currency
    charges_sync(company=company, invoice=invoice, until=invoice.period_end)
    tiers_apply(company=company, invoice=invoice)
    missing = list(
        Charge.objects.filter(invoice=invoice, billable=True, rate__isnull=True)
        .values_list("category", "market__name")
        .distinct()
        .order_by("category", "market__name")
    )
    if missing:
        names = "; ".join(f"{c} in {m}" for c, m in missing)
        raise RateMissing(
            f"{company} has charged messages without a rate in {currency}: {names}. "
            "Add the rates to the company's or the price list's rate card."
        )
    fee = license_fee_compute(company=company, month=invoice.month)
    lines = []
    if fee.license_days:
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.LICENSE,
                description=fee.description,
                quantity=Decimal(fee.license_days),
                unit_price=(fee.amount / fee.license_days).quantize(
                    Decimal("0.000001")
                ),
                amount=fee.amount,
                details={
                    "days_in_month": fee.days_in_month,
                    "segments": [
                        {"count": s.count, "days": s.days, "price": str(s.price)}
                        for s in fee.segments
                    ],
                },
            )
        )
    lines += _usage_lines(invoice, currency, company.zone)
    subtotal = rules.invoice_total(line.amount for line in lines)
    tax = rules.tax_amount(
        subtotal=subtotal, tax_rate=company.tax_rate, currency=currency
    )
    if company.tax_rate:
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.TAX,
                description=f"Tax {company.tax_rate * 100:.2f} %",
                quantity=Decimal(1),
                unit_price=tax,
                amount=tax,
            )
        )
    for position, line in enumerate(lines):
        line.invoice = invoice
        line.position = position
    InvoiceLine.objects.filter(invoice=invoice).delete()
    InvoiceLine.objects.bulk_create(lines)
    invoice.currency = currency
    invoice.tax_rate = company.tax_rate
    invoice.subtotal = subtotal
    invoice.tax = tax
    invoice.total = rules.invoice_total(line.amount for line in lines)
    invoice.free_templates = Charge.objects.filter(
        invoice=invoice, billable=False
    ).count()
    invoice.computed_at = timezone.now()
    invoice.save()
    disagreements_sync(invoice=invoice)  # F4: as current as the charges
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
    company = company_lock(company)
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
