"""The invoice and the credit note as documents (F7, D2): who issues them, who
they are billed to, and the one context each page and its PDF render from.

A finalized invoice carries the issuer and the customer frozen on it at
finalization; a draft shows the current ones. Its customer status (draft, open,
overdue, paid, void) is judged at the reading instant in the company's zone.
"""

import base64
from dataclasses import asdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    DecimalField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import pgettext_lazy

from accounts.models import Company

from .. import rules
from ..models import CreditNote, Invoice, InvoiceLine, Issuer
from ..money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, ZERO
from ..rules import CustomerStatus
from .credit_notes import credit_note_lines, credit_notes_of
from .invoices import invoice_lines

# What an invoice keeps of its issuer at finalization. ``logo`` is the stored
# file's name: a new upload is a new file (the field never deletes the old one),
# so a finalized invoice keeps the logo it had.
ISSUER_FROZEN_FIELDS = (
    "legal_name",
    "address",
    "tax_id",
    "email",
    "payment_details",
    "logo",
)

CUSTOMER_STATUS_CHOICES = [
    (CustomerStatus.DRAFT, pgettext_lazy("invoice status", "Draft")),
    (CustomerStatus.OPEN, pgettext_lazy("invoice status", "Open")),
    (CustomerStatus.OVERDUE, pgettext_lazy("invoice status", "Overdue")),
    (CustomerStatus.PAID, pgettext_lazy("invoice status", "Paid")),
    (CustomerStatus.VOID, pgettext_lazy("invoice status", "Void")),
]
CUSTOMER_STATUS_LABELS = dict(CUSTOMER_STATUS_CHOICES)
# The list's order by status: what needs the reader first.
STATUS_ORDER = (
    CustomerStatus.OVERDUE,
    CustomerStatus.OPEN,
    CustomerStatus.DRAFT,
    CustomerStatus.PAID,
    CustomerStatus.VOID,
)


def issuer_get() -> Issuer | None:
    return Issuer.objects.first()


def issuer_details(issuer: Issuer | None = None) -> dict:
    """F7: the issuer of invoices: the admin's record, else the settings'
    ``BILLING_ISSUER`` defaults."""
    issuer = issuer or issuer_get()
    if issuer is None:
        return {**settings.BILLING_ISSUER, "logo": "", "has_logo": False}
    return {
        "legal_name": issuer.legal_name,
        "address": issuer.address,
        "tax_id": issuer.tax_id,
        "email": issuer.email,
        "payment_details": issuer.payment_details,
        "payment_terms_days": issuer.payment_terms_days,
        "logo": issuer.logo.name if issuer.logo else "",
        "has_logo": bool(issuer.logo),
    }


def issuer_logo(name: str | None = None) -> tuple[bytes, str] | None:
    """A logo as (bytes, content type), or None: the stored file ``name`` (a
    finalized document's frozen one), else the issuer's current logo. None too
    when the file is gone from the storage (the document shows the name)."""
    if name is None:
        issuer = issuer_get()
        if issuer is None or not issuer.logo:
            return None
        name = issuer.logo.name
    if not name:
        return None
    lowered = name.lower()
    kind = "image/png" if lowered.endswith(".png") else "image/jpeg"
    if lowered.endswith(".svg"):
        kind = "image/svg+xml"
    try:
        with Issuer._meta.get_field("logo").storage.open(name, "rb") as fh:
            return fh.read(), kind
    except FileNotFoundError:
        return None


def issuer_logo_data_uri(name: str | None = None) -> str:
    """The logo inlined for the PDF (no URL to fetch while rendering)."""
    logo = issuer_logo(name)
    if logo is None:
        return ""
    data, kind = logo
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def customer_details(company: Company) -> dict:
    """F7: the customer as an invoice carries it (the current details)."""
    return {
        "name": company.invoice_name,
        "email": company.billing_email,
        "address": company.billing_address,
        "country": company.country,
        "tax_id": company.tax_id,
        "timezone": company.billing_timezone,
    }


def invoice_customer(invoice: Invoice) -> dict:
    """The frozen customer of a finalized invoice, the current one of a draft."""
    if invoice.is_frozen and invoice.billing_details:
        return {"tax_id": "", **invoice.billing_details}
    return customer_details(invoice.company)


def invoice_issuer(invoice: Invoice) -> dict:
    """The frozen issuer of a finalized invoice, the current one of a draft.
    Invoices finalized before issuers were frozen show the current one."""
    current = issuer_details()
    if invoice.is_frozen and invoice.issuer_details:
        # Frozen before logos were: the current logo, as for other missing keys.
        frozen = {**current, **invoice.issuer_details}
        return {**frozen, "has_logo": bool(frozen["logo"])}
    return current


def invoice_customer_status(invoice: Invoice, at: datetime | None = None) -> str:
    """F7: what the customer is told about the invoice at ``at`` (now)."""
    return rules.customer_status(
        status=invoice.status,
        due=invoice.due_date,
        at=at or timezone.now(),
        zone=invoice.company.zone,
    )


def invoice_issued_on(invoice: Invoice):
    """The issue date in the company's zone (a date, so no filter shifts it)."""
    if invoice.finalized_at is None:
        return None
    return rules.local_date(invoice.finalized_at, invoice.company.zone)


def _group_lines(lines) -> dict:
    by_kind = {kind: [] for kind in InvoiceLine.Kind.values}
    for line in lines:
        by_kind[line.kind].append(line)
    license_line = (by_kind[InvoiceLine.Kind.LICENSE] or [None])[0]
    return {
        "license_line": license_line,
        "license_segments": (
            license_line.details.get("segments", []) if license_line else []
        ),
        "usage_lines": by_kind[InvoiceLine.Kind.USAGE],
        "carried_lines": by_kind[InvoiceLine.Kind.CARRIED_OVER],
        "tax_line": (by_kind[InvoiceLine.Kind.TAX] or [None])[0],
    }


def invoice_context(
    invoice: Invoice, lines, credit_notes=(), *, at: datetime | None = None
) -> dict:
    """Everything the invoice page and its PDF show; both render from this.

    The issuer and the customer (frozen at finalization, F7), number, issue date,
    period, payment terms and due date, lines, tax base, rate and amount per
    rate, total, credits applied (D2), amount paid and amount due, the customer
    status. Dates are ``date`` objects in the company's zone: the ``date``
    filter would turn an aware datetime back to the active zone (UTC).
    """
    zone = invoice.company.zone
    credit_notes = [] if invoice.status == Invoice.Status.DRAFT else list(credit_notes)
    balance = rules.invoice_balance(
        status=invoice.status,
        total=invoice.total,
        credits=[note.total for note in credit_notes],
    )
    status = invoice_customer_status(invoice, at)
    issuer = invoice_issuer(invoice)
    terms = invoice.payment_terms_days
    if terms is None and not invoice.is_frozen:
        terms = issuer["payment_terms_days"]
    return {
        "invoice": invoice,
        "company": invoice.company,
        "issuer": issuer,
        # The logo inlined (data: URI): the page and the PDF fetch nothing.
        "logo_src": issuer_logo_data_uri(issuer["logo"]) if issuer["has_logo"] else "",
        "details": invoice_customer(invoice),
        "zone": zone,
        "period_first_day": rules.local_date(invoice.period_start, zone),
        "period_last_day": rules.local_date(
            invoice.period_end - timedelta(microseconds=1), zone
        ),
        "issued_on": invoice_issued_on(invoice),
        "payment_terms_days": terms,
        "due_date": invoice.due_date,
        "paid_on": rules.local_date(invoice.paid_at, zone) if invoice.paid_at else None,
        "voided_on": (
            rules.local_date(invoice.voided_at, zone) if invoice.voided_at else None
        ),
        "customer_status": status,
        "customer_status_label": CUSTOMER_STATUS_LABELS[status],
        "tax_rows": [
            {"base": invoice.subtotal, "rate": invoice.tax_rate, "amount": invoice.tax}
        ],
        **_group_lines(lines),
        "credit_notes": credit_notes,
        "credits_applied": balance.credits_applied if credit_notes else None,
        "amount_paid": balance.amount_paid,
        "amount_due": balance.amount_due,
        "balance": asdict(balance),
    }


def invoice_document(invoice: Invoice, *, at: datetime | None = None) -> dict:
    """The context of the invoice page and its PDF, from the database."""
    draft = invoice.status == Invoice.Status.DRAFT  # a draft has no credit notes
    return invoice_context(
        invoice,
        invoice_lines(invoice=invoice),
        [] if draft else credit_notes_of(invoice=invoice),
        at=at,
    )


def credit_note_context(credit_note: CreditNote, lines) -> dict:
    """Everything the credit note page and its PDF show; both render from this."""
    invoice = credit_note.invoice
    zone = invoice.company.zone
    issuer = invoice_issuer(invoice)
    return {
        "credit_note": credit_note,
        "invoice": invoice,
        "company": invoice.company,
        "issuer": issuer,
        "logo_src": issuer_logo_data_uri(issuer["logo"]) if issuer["has_logo"] else "",
        "details": invoice_customer(invoice),
        "zone": zone,
        "issued_on": rules.local_date(credit_note.created_at, zone),
        "lines": lines,
    }


def credit_note_document(credit_note: CreditNote) -> dict:
    return credit_note_context(credit_note, credit_note_lines(credit_note=credit_note))


# --- The invoice list: customer statuses in SQL -------------------------------

_MONEY = DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)


def invoice_list_documents(
    *, company: Company, at: datetime | None = None
) -> QuerySet[Invoice]:
    """The company's invoices annotated with ``customer_status`` (F7, the same
    answer as ``rules.customer_status``: overdue from the day after the due
    date in the company's zone) and ``credits_applied`` (D2), for filtering
    and sorting in one query."""
    today = rules.local_date(at or timezone.now(), company.zone)
    credits = (
        CreditNote.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(sum=Sum("total"))
        .values("sum")
    )
    return (
        Invoice.objects.filter(company=company)
        .select_related("company")
        .annotate(
            customer_status=Case(
                When(
                    Q(status=Invoice.Status.FINALIZED, due_date__lt=today),
                    then=Value(CustomerStatus.OVERDUE),
                ),
                When(status=Invoice.Status.FINALIZED, then=Value(CustomerStatus.OPEN)),
                default="status",
                output_field=CharField(),
            ),
            # Sorting by status: what needs the reader first.
            status_rank=Case(
                *(
                    When(customer_status=value, then=Value(rank))
                    for rank, value in enumerate(STATUS_ORDER)
                ),
                output_field=IntegerField(),
            ),
            credits_applied=Coalesce(
                Subquery(credits, output_field=_MONEY), Value(ZERO), output_field=_MONEY
            ),
        )
        .order_by("-month")
    )


def invoice_document_get(*, company: Company, pk: int) -> Invoice:
    """One of the company's invoices with the list's annotations, or 404."""
    return get_object_or_404(invoice_list_documents(company=company), pk=pk)
