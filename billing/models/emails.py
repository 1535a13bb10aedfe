"""Emails of billing documents: one row per document and recipient, so an invoice
or a credit note reaches each billing contact exactly once (D2)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .credit_notes import CreditNote
from .invoices import Invoice


class DocumentEmail(models.Model):
    """A finalized invoice or an issued credit note sent (or to send) to one
    billing contact of the company, with the PDF, in that contact's language.

    Recorded with the document, sent on commit; a failed send is retried and the
    row shows Customer Success the last error.
    """

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Invoice")
        CREDIT_NOTE = "credit_note", _("Credit note")

    class Status(models.TextChoices):
        PENDING = "pending", _("To send")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("document"), max_length=12, choices=Kind.choices)
    invoice = models.ForeignKey(
        Invoice,
        verbose_name=_("invoice"),
        on_delete=models.PROTECT,
        related_name="emails",
    )
    # Set for a credit note's email; the invoice is then the one it corrects.
    credit_note = models.ForeignKey(
        CreditNote,
        verbose_name=_("credit note"),
        on_delete=models.PROTECT,
        related_name="emails",
        null=True,
        blank=True,
    )
    recipient = models.EmailField(_("recipient"))
    language = models.CharField(_("language"), max_length=8)
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=Status.choices,
        default=Status.PENDING,
        db_index=True,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    attempted_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("document email")
        verbose_name_plural = _("document emails")
        ordering = ["-created_at", "recipient"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "recipient"],
                condition=models.Q(credit_note__isnull=True),
                name="document_email_invoice_once",
            ),
            models.UniqueConstraint(
                fields=["credit_note", "recipient"],
                condition=models.Q(credit_note__isnull=False),
                name="document_email_credit_note_once",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="invoice", credit_note__isnull=True)
                    | models.Q(kind="credit_note", credit_note__isnull=False)
                ),
                name="document_email_kind_matches",
            ),
        ]

    def __str__(self) -> str:
        document = self.credit_note or self.invoice
        return f"{document} → {self.recipient}"
