"""The emails of finalized invoices and credit notes: who got which document,
in which language, and what failed; Customer Success send a failed one again."""

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_base import ViewOnlyAdmin

from ..models import DocumentEmail
from ..services import document_email_send
from .base import _invoice_link


@admin.register(DocumentEmail)
class DocumentEmailAdmin(ViewOnlyAdmin):
    list_display = (
        "document_display",
        "recipient",
        "language",
        "status_display",
        "attempts",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "kind", "language")
    list_select_related = ("invoice__company", "credit_note")
    search_fields = (
        "recipient",
        "invoice__number",
        "credit_note__number",
        "invoice__company__name",
    )
    date_hierarchy = "created_at"
    actions = ["send_again"]
    fields = (
        "kind",
        "invoice_display",
        "credit_note",
        "recipient",
        "language",
        "status",
        "attempts",
        "attempted_at",
        "last_error",
        "created_at",
        "sent_at",
    )
    readonly_fields = fields

    def has_change_permission(self, request, obj=None):
        # Used only by the "Send again" action; a row is never edited.
        return obj is None and request.user.has_perm("billing.change_documentemail")

    @admin.display(description=_("document"), ordering="invoice__number")
    def document_display(self, obj):
        if obj.credit_note_id:
            return format_html(
                "{} ({})", obj.credit_note.number, obj.invoice.company.name
            )
        return format_html("{} ({})", obj.invoice.number, obj.invoice.company.name)

    @admin.display(description=_("invoice"))
    def invoice_display(self, obj):
        return _invoice_link(obj.invoice)

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, obj):
        if obj.status == DocumentEmail.Status.FAILED:
            return format_html(
                '<span class="error-text">{}: {}</span>',
                obj.get_status_display(),
                obj.last_error,
            )
        return obj.get_status_display()

    @admin.action(
        description=_("Send the selected emails again now"), permissions=["change"]
    )
    def send_again(self, request, queryset):
        sent = failed = skipped = 0
        for pk in queryset.values_list("pk", flat=True):
            row = DocumentEmail.objects.only("status").get(pk=pk)
            if row.status == DocumentEmail.Status.SENT:
                skipped += 1
                continue
            row = document_email_send(email_id=pk, force=True)
            if row.status == DocumentEmail.Status.SENT:
                sent += 1
            else:
                failed += 1
        if sent:
            self.message_user(
                request,
                ngettext("%(n)d email sent.", "%(n)d emails sent.", sent) % {"n": sent},
                messages.SUCCESS,
            )
        if failed:
            self.message_user(
                request,
                ngettext(
                    "%(n)d email failed again; its row says why.",
                    "%(n)d emails failed again; their rows say why.",
                    failed,
                )
                % {"n": failed},
                messages.ERROR,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)d email had been sent already; not sent twice.",
                    "%(n)d emails had been sent already; not sent twice.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )
