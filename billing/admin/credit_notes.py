"""Credit notes: issued from an invoice (``InvoiceAdmin.issue_credit_note``), view only."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ReadOnlyInline, ViewOnlyAdmin

from ..models import CreditNote, CreditNoteLine
from .base import _invoice_link


class CreditNoteLineInline(ReadOnlyInline):
    model = CreditNoteLine
    fields = ("invoice_line", "description", "amount")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice_line")


@admin.register(CreditNote)
class CreditNoteAdmin(ViewOnlyAdmin):
    """Issued from an invoice (its "Issue a credit note" action), never edited."""

    list_display = (
        "number",
        "invoice_link",
        "company",
        "subtotal",
        "tax",
        "total",
        "currency",
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
        "subtotal",
        "tax",
        "total",
        "created_by",
        "created_at",
    )
    readonly_fields = ("invoice_link",)
    inlines = [CreditNoteLineInline]

    @admin.display(description=_("invoice"), ordering="invoice__number")
    def invoice_link(self, obj):
        return _invoice_link(obj.invoice)

    @admin.display(description=_("company"), ordering="invoice__company__name")
    def company(self, obj):
        return obj.invoice.company
