"""What several billing admin pages share: money and invoice columns, the month filter."""

from datetime import date

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import Invoice
from ..money import quantize_money


def _money(amount, currency: str) -> str:
    if amount is None:
        return "–"
    return f"{quantize_money(amount, currency)} {currency}"


def _invoice_link(invoice: Invoice | None):
    if invoice is None:
        return "–"
    return format_html(
        '<a href="{}">{}</a>',
        reverse("admin:billing_invoice_change", args=[invoice.pk]),
        invoice,
    )


class MonthFilter(admin.SimpleListFilter):
    title = _("month")
    parameter_name = "month"

    def lookups(self, request, model_admin):
        months = model_admin.get_queryset(request).dates("month", "month", "DESC")
        return [(f"{m:%Y-%m}", f"{m:%B %Y}") for m in months]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        try:
            year, month = (int(part) for part in value.split("-"))
            return queryset.filter(month=date(year, month, 1))
        except ValueError:
            return queryset.none()
