"""Credit notes for the portal (D2); every read is scoped to one company."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import Company

from ..models import CreditNote, CreditNoteLine, Invoice


def credit_notes_of(*, invoice: Invoice) -> list[CreditNote]:
    """D2: the credit notes correcting ``invoice``, oldest first."""
    return list(invoice.credit_notes.order_by("created_at", "pk"))


def credit_note_list(*, company: Company) -> QuerySet[CreditNote]:
    """D2: the company's credit notes, newest first, with their lines."""
    return (
        CreditNote.objects.filter(invoice__company=company)
        .select_related("invoice__company")
        .prefetch_related("lines")
        .order_by("-created_at", "-pk")
    )


def credit_note_get(*, company: Company, pk: int) -> CreditNote:
    """The company's credit note or 404: another company's id is indistinguishable."""
    return get_object_or_404(credit_note_list(company=company), pk=pk)


def credit_note_lines(*, credit_note: CreditNote) -> list[CreditNoteLine]:
    return list(credit_note.lines.select_related("invoice_line__market").order_by("pk"))
