"""What several billing admin pages share: the invoice column and the month filter."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import Invoice
from ..services.runs import month_parse


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
            return queryset.filter(month=month_parse(value))
        except ValueError:
            return queryset.none()
