"""Credit notes (D2): corrections of finalized invoices, never edits."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import User

from .. import rules
from ..exceptions import (
    InvalidCredit,
)
from ..locks import invoice_lock
from ..models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
)
from ..money import money_text, quantize_money
from ..selectors.invoices import creditable_lines
from .documents import _sequence_next
from .emails import document_emails_record


@transaction.atomic
def credit_note_issue(
    *, invoice: Invoice, amounts: dict[int, Decimal], reason: str, actor: User | None
) -> CreditNote:
    """D2: correct a finalized invoice with a credit note referencing its lines.

    ``amounts`` maps invoice line ids to the amount credited (> 0, at most what is
    left of the line after earlier credit notes). Tax is credited at the
    invoice's rate.
    """
    invoice = invoice_lock(invoice.pk)
    if not invoice.is_creditable:
        raise InvalidCredit(
            "Only finalized or paid invoices are corrected by credit notes."
        )
    if not reason.strip():
        raise InvalidCredit("Say why the credit note is issued.")
    if not amounts:
        raise InvalidCredit("Credit at least one line.")
    lines = {
        line.pk: line
        for line in creditable_lines(invoice=invoice).filter(pk__in=amounts)
    }
    note_lines = []
    currency = invoice.currency
    for line_id, raw in amounts.items():
        line = lines.get(line_id)
        if line is None:
            raise InvalidCredit(
                f"Line {line_id} is not a creditable line of {invoice}."
            )
        amount = quantize_money(Decimal(raw), currency)
        if amount <= 0 or amount > line.left:
            raise InvalidCredit(
                f"{line.description}: credit must be more than 0 and at most "
                f"{money_text(line.left, currency)}."
            )
        note_lines.append(
            CreditNoteLine(
                invoice_line=line, description=line.description, amount=amount
            )
        )
    subtotal = rules.invoice_total(n.amount for n in note_lines)
    tax = rules.tax_amount(
        subtotal=subtotal, tax_rate=invoice.tax_rate, currency=currency
    )
    year = timezone.now().year
    note = CreditNote.objects.create(
        invoice=invoice,
        number=f"CN-{year}-{_sequence_next('CN', year):06d}",
        reason=reason.strip()[:500],
        currency=currency,
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        created_by=actor,
    )
    for n in note_lines:
        n.credit_note = note
    CreditNoteLine.objects.bulk_create(note_lines)
    # Emailed with its PDF to the billing contacts once this commits.
    document_emails_record(invoice=invoice, credit_note=note)
    return note
