"""Invoice documents (D2): gapless numbering, finalization (freezing the issuer, the
customer, the payment terms and the due date, F7) and the guarded transitions to
paid and void."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import (
    F,
)
from django.utils import timezone

from accounts.locks import company_lock
from accounts.models import Company

from .. import rules
from ..exceptions import (
    DisagreementsUnreviewed,
    InvalidTransition,
)
from ..locks import invoice_lock, sequence_lock
from ..models import (
    DocumentSequence,
    Invoice,
)
from ..selectors.documents import ISSUER_FROZEN_FIELDS, customer_details, issuer_details
from ..selectors.reconciliation import unreviewed_count
from .emails import document_emails_record
from .invoices import _invoice_recompute


def _sequence_next(kind: str, year: int) -> int:
    """Take the next number of a gapless sequence; rolls back with the caller."""
    try:
        with transaction.atomic():
            DocumentSequence.objects.get_or_create(kind=kind, year=year)
    except IntegrityError:
        pass  # created concurrently; the lock below serialises us
    sequence = sequence_lock(kind=kind, year=year)
    sequence.last_number = F("last_number") + 1
    sequence.save(update_fields=["last_number"])
    sequence.refresh_from_db(fields=["last_number"])
    return sequence.last_number


def _company_details(company: Company) -> dict:
    """F7: the customer as the invoice carries it, frozen at finalization."""
    return customer_details(company)


def invoice_finalize(*, invoice: Invoice, at: datetime | None = None) -> Invoice:
    """D2: recompute a draft one last time, number it and freeze it.

    F4: refused with DisagreementsUnreviewed while the invoice has pricing
    disagreements nobody reviewed; the draft then keeps what this last
    recompute found (its new disagreements listed for review), whoever calls.
    """
    at = at or timezone.now()
    with transaction.atomic():
        company = company_lock(invoice.company_id)
        invoice = invoice_lock(invoice.pk)
        if invoice.status != Invoice.Status.DRAFT:
            raise InvalidTransition(
                f"{invoice} is {invoice.get_status_display().lower()}, not a draft."
            )
        if at < invoice.period_end:
            raise InvalidTransition(
                f"{invoice} covers a month that has not ended yet ({invoice.period_end:%Y-%m-%d %H:%M} UTC)."
            )
        _invoice_recompute(company=company, invoice=invoice)
        unreviewed = unreviewed_count(invoice=invoice)
        if not unreviewed:
            year = at.year
            invoice.number = f"INV-{year}-{_sequence_next('INV', year):06d}"
            invoice.status = Invoice.Status.FINALIZED
            invoice.finalized_at = at
            invoice.billing_details = _company_details(company)
            # F7: the issuer, its payment terms and the due date are frozen too.
            issuer = issuer_details()
            invoice.issuer_details = {key: issuer[key] for key in ISSUER_FROZEN_FIELDS}
            invoice.payment_terms_days = issuer["payment_terms_days"]
            invoice.due_date = rules.due_date(
                issued_on=rules.local_date(at, company.zone),
                terms_days=invoice.payment_terms_days,
            )
            invoice.save()
            # Emailed with its PDF to the billing contacts once this commits.
            document_emails_record(invoice=invoice)
            return invoice
    raise DisagreementsUnreviewed(invoice=invoice, count=unreviewed)


def _transition(
    invoice: Invoice, *, allowed: tuple[str, ...], to: str, **fields
) -> Invoice:
    with transaction.atomic():
        locked = invoice_lock(invoice.pk)
        if locked.status not in allowed:
            raise InvalidTransition(
                f"{locked} is {locked.get_status_display().lower()}; it cannot become {to}."
            )
        locked.status = to
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save()
        return locked


def invoice_mark_paid(*, invoice: Invoice, at: datetime | None = None) -> Invoice:
    return _transition(
        invoice,
        allowed=(Invoice.Status.FINALIZED,),
        to=Invoice.Status.PAID,
        paid_at=at or timezone.now(),
    )


def invoice_void(
    *, invoice: Invoice, reason: str, at: datetime | None = None
) -> Invoice:
    """D2: void a finalized invoice; it keeps its number and its charges stay billed."""
    if not reason.strip():
        raise InvalidTransition("Say why the invoice is voided.")
    return _transition(
        invoice,
        allowed=(Invoice.Status.FINALIZED,),
        to=Invoice.Status.VOID,
        voided_at=at or timezone.now(),
        void_reason=reason.strip()[:300],
    )
