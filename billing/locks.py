"""Row locks of billing, in one place (Saleor's lock_objects); the company's row
lock stays ``accounts.locks.company_lock``.

Billing's place in the lock order (accounts/locks.py): the company first, then
the month so far's row (a billing run; its sync takes that row alone), then the
invoice, then the document sequence row. Computing or finalizing an invoice
takes the company, then the invoice; numbering (finalize, credit notes) takes
the sequence last. A rate card import locks only its card; a charge policy edit
only its policy. Every lock is FOR NO KEY UPDATE and names its own table
(``of=("self",)`` where a join is selected), so foreign-key checks of new
charges and lines pass through.
"""

from .models import (
    ChargePolicy,
    DocumentEmail,
    DocumentSequence,
    Invoice,
    RateCard,
    UsageSnapshot,
)


def invoice_lock(pk: int) -> Invoice:
    """Lock and return invoice ``pk``: its status changes one at a time (D2); take
    the company's lock first when the invoice is recomputed."""
    return Invoice.objects.select_for_update(no_key=True).get(pk=pk)


def sequence_lock(*, kind: str, year: int) -> DocumentSequence:
    """Lock and return the gapless number sequence of ``kind`` and ``year`` (D2):
    numbers are taken one at a time and roll back with their document."""
    return DocumentSequence.objects.select_for_update(no_key=True).get(
        kind=kind, year=year
    )


def rate_card_lock(pk: int) -> RateCard:
    """Lock and return rate card ``pk`` with its company (read, not locked):
    imports into one card serialise, so the existing-rate check holds (C6)."""
    return (
        RateCard.objects.select_for_update(no_key=True, of=("self",))
        .select_related("company")
        .get(pk=pk)
    )


def charge_policy_lock(pk: int) -> ChargePolicy:
    """Lock and return charge policy ``pk``: edits serialise with the check that
    no finalized invoice used it (F1)."""
    return ChargePolicy.objects.select_for_update(no_key=True).get(pk=pk)


def document_email_lock(pk: int) -> DocumentEmail:
    """Lock and return document email ``pk`` with its invoice, company and credit
    note (read, not locked): one send at a time, so a sent email is never sent
    again (D2). Taken alone, outside the company and invoice locks."""
    return (
        DocumentEmail.objects.select_for_update(no_key=True, of=("self",))
        .select_related("invoice__company", "credit_note")
        .get(pk=pk)
    )


def usage_snapshot_lock(company_id: int) -> UsageSnapshot:
    """Lock and return the company's month so far (created once): its syncs and
    billing runs rebuild the unbilled charges one at a time; never the company's
    row, so a sync holds up no seat or invoice decision."""
    UsageSnapshot.objects.get_or_create(company_id=company_id)
    return UsageSnapshot.objects.select_for_update(no_key=True).get(
        company_id=company_id
    )
