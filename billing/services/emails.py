"""Billing documents by email (D2): a finalized invoice or an issued credit note
goes to each of the company's billing contacts, once, with its PDF, in the
contact's language.

``document_emails_record`` writes one ``DocumentEmail`` row per document and
recipient (unique, so a repeated call records nothing new) inside the caller's
transaction and enqueues the sends on commit. ``document_email_send`` sends one
row under its lock unless it was sent; a failure is kept on the row (attempts,
last error) and retried by the beat (``document_emails_retry``) up to
``MAX_ATTEMPTS`` times; Customer Success see failed rows in the admin and send
them again from there.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from accounts.models import User
from accounts.queueing import enqueue_on_commit
from accounts.selectors import billing_recipients

from .. import pdf
from ..locks import document_email_lock
from ..models import CreditNote, DocumentEmail, Invoice
from ..selectors.emails import MAX_ATTEMPTS

logger = logging.getLogger(__name__)


def document_emails_record(
    *, invoice: Invoice, credit_note: CreditNote | None = None
) -> list[DocumentEmail]:
    """Record the emails of a just finalized ``invoice`` (or of ``credit_note``,
    issued on it) to the company's billing contacts; send them on commit.

    Call it inside the transaction that finalizes or issues the document: rolled
    back with it, nothing is sent. Idempotent: a recipient already recorded for
    the document is not recorded (nor sent) again.
    """
    from ..tasks import document_email_send_task

    kind = DocumentEmail.Kind.CREDIT_NOTE if credit_note else DocumentEmail.Kind.INVOICE
    recipients = billing_recipients(company=invoice.company)
    DocumentEmail.objects.bulk_create(
        [
            DocumentEmail(
                kind=kind,
                invoice=invoice,
                credit_note=credit_note,
                recipient=recipient.email,
                language=recipient.language,
            )
            for recipient in recipients
        ],
        ignore_conflicts=True,
    )
    rows = list(
        DocumentEmail.objects.filter(
            invoice=invoice,
            credit_note=credit_note,
            status=DocumentEmail.Status.PENDING,
            attempts=0,
        ).order_by("recipient")
    )
    for row in rows:
        enqueue_on_commit(document_email_send_task, row.pk)
    return rows


def _recipient_name(row: DocumentEmail) -> str:
    user = (
        User.objects.filter(email__iexact=row.recipient, is_active=True)
        .only("full_name")
        .first()
    )
    return user.full_name if user else ""


def _period(invoice: Invoice) -> tuple:
    zone = invoice.company.zone
    first = invoice.period_start.astimezone(zone).date()
    last = (invoice.period_end - timedelta(seconds=1)).astimezone(zone).date()
    return first, last


def document_email_message(row: DocumentEmail) -> EmailMessage:
    """The email of ``row``: subject, body and the PDF, in the row's language."""
    invoice = row.invoice
    note = row.credit_note
    with translation.override(row.language):
        first, last = _period(invoice)
        context = {
            "name": _recipient_name(row),
            "company": invoice.company,
            "invoice": invoice,
            "credit_note": note,
            "month": date_format(invoice.month, "YEAR_MONTH_FORMAT"),
            "period_first": date_format(first, "DATE_FORMAT"),
            "period_last": date_format(last, "DATE_FORMAT"),
            "zone": invoice.company.billing_timezone,
            # F7: the due date frozen at finalization (issue date + terms).
            "due": (
                date_format(invoice.due_date, "DATE_FORMAT") if invoice.due_date else ""
            ),
        }
        if note is None:
            template = "emails/invoice"
            context["path"] = reverse("billing:invoice", args=[invoice.pk])
            attachment = pdf.invoice_pdf(invoice)
            filename = pdf.document_filename(invoice)
        else:
            template = "emails/credit_note"
            context["path"] = reverse("billing:credit-note", args=[note.pk])
            attachment = pdf.credit_note_pdf(note)
            filename = pdf.document_filename(note)
        subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
        body = render_to_string(f"{template}.txt", context)
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[row.recipient],
    )
    message.attach(filename, attachment, "application/pdf")
    return message


def document_email_send(
    *, email_id: int, at: datetime | None = None, force: bool = False
) -> DocumentEmail:
    """Send one recorded email unless it was sent; return the row.

    A failure is kept on the row (``failed``, attempts, last error), never
    raised: the beat tries again after ``RETRY_AFTER``, up to ``MAX_ATTEMPTS``
    tries; ``force`` (Customer Success's "Send again") tries whatever the count.
    """
    at = at or timezone.now()
    with transaction.atomic():
        row = document_email_lock(email_id)
        if row.status == DocumentEmail.Status.SENT:
            return row
        if not force and row.attempts >= MAX_ATTEMPTS:
            return row
        row.attempts += 1
        row.attempted_at = at
        try:
            document_email_message(row).send()
        except Exception as exc:  # noqa: BLE001 - any backend failure is kept and retried
            logger.warning(
                "Email of %s to %s failed (try %d of %d): %s",
                row.credit_note or row.invoice,
                row.recipient,
                row.attempts,
                MAX_ATTEMPTS,
                type(exc).__name__,
            )
            if row.attempts >= MAX_ATTEMPTS:
                logger.error(
                    "Email of %s to %s failed %d times; waiting for Customer "
                    "Success (admin: Document emails)",
                    row.credit_note or row.invoice,
                    row.recipient,
                    row.attempts,
                )
            row.status = DocumentEmail.Status.FAILED
            row.last_error = f"{type(exc).__name__}: {exc}"[:500]
        else:
            row.status = DocumentEmail.Status.SENT
            row.sent_at = at
            row.last_error = ""
        row.save()
        return row
