"""Charges: one per delivered template, with why; view only."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ViewOnlyAdmin

from ..models import Charge, Invoice
from .base import _invoice_link


class ChargeInvoiceFilter(admin.SimpleListFilter):
    """Filter by invoice without listing every invoice: the link from an invoice
    selects it, and "not invoiced yet" finds charges waiting for a run."""

    title = _("invoice")
    parameter_name = "invoice"
    NONE = "none"

    def lookups(self, request, model_admin):
        choices = [(self.NONE, _("Not invoiced yet"))]
        value = self.value()
        if value and value.isdigit():
            invoice = Invoice.objects.select_related("company").filter(pk=value).first()
            if invoice is not None:
                choices.append((value, str(invoice)))
        return choices

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.NONE:
            return queryset.filter(invoice__isnull=True)
        if value:
            return (
                queryset.filter(invoice_id=value)
                if value.isdigit()
                else queryset.none()
            )
        return queryset


@admin.register(Charge)
class ChargeAdmin(ViewOnlyAdmin):
    list_display = (
        "delivered_at",
        "company",
        "category",
        "market",
        "billable",
        "reason",
        "amount_display",
        "invoice_link",
    )
    list_filter = (
        "billable",
        "category",
        "reason",
        "policy",
        "market",
        "company",
        ChargeInvoiceFilter,
    )
    list_select_related = ("company", "market", "invoice", "invoice__company")
    search_fields = ("=message__wamid",)
    search_help_text = _("The exact WhatsApp message id (wamid.…).")
    show_full_result_count = False
    fields = (
        "message",
        "company",
        "category",
        "market",
        "delivered_at",
        "billable",
        "reason",
        "rate",
        "amount",
        "currency",
        "window_message",
        "window_opened_at",
        "policy",
        "entry_point_message",
        "entry_point_opened_at",
        "tier",
        "invoice_link",
        "created_at",
    )
    readonly_fields = ("invoice_link",)

    @admin.display(description=_("invoice"), ordering="invoice")
    def invoice_link(self, obj):
        return _invoice_link(obj.invoice)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj):
        """What the message costs with its currency in one column ("0.0615
        EUR"), and the rate card's rate when a volume tier changed it (F3)."""
        if obj.amount is None:
            return _("no rate") if obj.billable else "–"
        text = f"{obj.amount:.4f} {obj.currency}"
        if obj.rate is not None and obj.rate != obj.amount:
            text += " " + _("(rate %(rate)s)") % {"rate": f"{obj.rate:.4f}"}
        return text
