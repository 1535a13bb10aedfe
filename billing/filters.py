from datetime import date

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Invoice
from .selectors.documents import CUSTOMER_STATUS_CHOICES


class InvoiceFilter(django_filters.FilterSet):
    month = django_filters.CharFilter(
        label=_("Month"),
        method="filter_month",
        widget=forms.TextInput(
            attrs={"type": "month", "class": "form-control form-control-sm"}
        ),
    )
    # F7: the statuses the customer reads (open, overdue…), on the queryset of
    # ``selectors.invoice_list_documents`` that annotates them.
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        field_name="customer_status",
        choices=CUSTOMER_STATUS_CHOICES,
        empty_label=_("Any status"),
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    class Meta:
        model = Invoice
        fields = ["month"]

    def filter_month(self, queryset, name, value):
        try:
            year, month = (int(part) for part in value.split("-"))
            return queryset.filter(month=date(year, month, 1))
        except ValueError:
            return queryset.none()


class InvoiceApiFilter(django_filters.FilterSet):
    """The API's filters: ``month=YYYY-MM`` and ``status``; unlike the portal's
    form, a malformed value is refused (400) rather than matching nothing."""

    month = django_filters.DateFilter(field_name="month", input_formats=["%Y-%m"])
    status = django_filters.ChoiceFilter(choices=Invoice.Status.choices)
    # F7, on ``selectors.invoice_list_documents``: draft, open, overdue, paid, void.
    customer_status = django_filters.ChoiceFilter(
        field_name="customer_status", choices=CUSTOMER_STATUS_CHOICES
    )

    class Meta:
        model = Invoice
        fields = ["month", "status", "customer_status"]
