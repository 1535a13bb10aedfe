"""Credit notes: issued from an invoice (``InvoiceAdmin.issue_credit_note``), view only."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ReadOnlyInline, ViewOnlyAdmin

from .. import pdf
from ..models import CreditNote, CreditNoteLine
from ..money import money_text
from .base import _invoice_link


class CreditNoteLineInline(ReadOnlyInline):
    model = CreditNoteLine
    fields = ("invoice_line", "description", "amount_display")
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("invoice_line", "credit_note")
        )

    @admin.display(description=_("amount"))
    def amount_display(self, obj):
        return money_text(obj.amount, obj.credit_note.currency)


@admin.register(CreditNote)
class CreditNoteAdmin(ViewOnlyAdmin):
    """Issued from an invoice (its "Issue a credit note" action), never edited."""

    list_display = (
        "number",
        "invoice_link",
        "company",
        "subtotal_display",
        "tax_display",
        "total_display",
        "created_by",
        "created_at",
    )
    list_select_related = ("invoice", "invoice__company", "created_by")
    list_filter = ("currency",)
    search_fields = ("number", "invoice__number", "invoice__company__name")
    fields = (
        "number",
        "invoice_link",
        "reason",
        "currency",
        "subtotal_display",
        "tax_display",
        "total_display",
        "pdf_link",
        "created_by",
        "created_at",
    )
    readonly_fields = (
        "invoice_link",
        "subtotal_display",
        "tax_display",
        "total_display",
        "pdf_link",
    )
    inlines = [CreditNoteLineInline]

    @admin.display(description=_("invoice"), ordering="invoice__number")
    def invoice_link(self, obj):
        return _invoice_link(obj.invoice)

    @admin.display(description=_("company"), ordering="invoice__company__name")
    def company(self, obj):
        return obj.invoice.company

    @admin.display(description=_("subtotal"), ordering="subtotal")
    def subtotal_display(self, obj):
        return money_text(obj.subtotal, obj.currency)

    @admin.display(description=_("tax"), ordering="tax")
    def tax_display(self, obj):
        return money_text(obj.tax, obj.currency)

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, obj):
        return money_text(obj.total, obj.currency)

    @admin.display(description=_("PDF"))
    def pdf_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:billing_creditnote_pdf", args=[obj.pk]),
            pdf.document_filename(obj),
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="billing_creditnote_pdf",
            ),
            *super().get_urls(),
        ]

    def pdf_view(self, request, object_id):
        """The credit note's PDF as the customer gets it, for Customer Success."""
        note = self.get_object(request, unquote(object_id))
        if note is None:
            raise Http404
        if not self.has_view_permission(request, note):
            raise PermissionDenied
        response = HttpResponse(
            pdf.credit_note_pdf(note), content_type="application/pdf"
        )
        response["Content-Disposition"] = (
            f'inline; filename="{pdf.document_filename(note)}"'
        )
        return response
