"""The portal's invoice and charge tables."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import Charge, Invoice
from ..selectors import reason_text
from ..templatetags.billing_tags import in_zone, money, rate

STATUS_BADGES = {
    Invoice.Status.DRAFT: "secondary",
    Invoice.Status.FINALIZED: "primary",
    Invoice.Status.PAID: "success",
    Invoice.Status.VOID: "dark",
}


def status_badge(invoice: Invoice) -> str:
    return format_html(
        '<span class="badge text-bg-{}">{}</span>',
        STATUS_BADGES[invoice.status],
        invoice.get_status_display(),
    )


class InvoiceTable(tables.Table):
    number = tables.Column(
        verbose_name=_("Number"), empty_values=(), order_by=("number",)
    )
    month = tables.DateColumn(verbose_name=_("Month"), format="YEAR_MONTH_FORMAT")
    status = tables.Column(verbose_name=_("Status"))
    total = tables.Column(
        verbose_name=_("Total"),
        attrs={"td": {"class": "text-end money"}, "th": {"class": "text-end"}},
    )

    class Meta:
        model = Invoice
        fields = ("number", "month", "status", "total")
        order_by = ("-month",)
        attrs = {"class": "table table-hover align-middle"}
        empty_text = _(
            "No invoices yet: the first one appears after your first full month."
        )

    def render_number(self, record):
        label = record.number or _("Draft")
        return format_html(
            '<a href="{}">{}</a>', reverse("billing:invoice", args=[record.pk]), label
        )

    def render_status(self, record):
        return status_badge(record)

    def render_total(self, record):
        return money(record.total, record.currency)


class ChargeTable(tables.Table):
    delivered_at = tables.Column(verbose_name=_("Delivered"))
    contact = tables.Column(verbose_name=_("Contact"), empty_values=(), orderable=False)
    template = tables.Column(
        verbose_name=_("Template"), empty_values=(), orderable=False
    )
    category = tables.Column(verbose_name=_("Category"))
    market = tables.Column(verbose_name=_("Market"), accessor="market__name")
    rate = tables.Column(
        verbose_name=_("Rate"), attrs={"td": {"class": "text-end money"}}
    )
    reason = tables.Column(verbose_name=_("Why"), empty_values=(), orderable=False)

    class Meta:
        model = Charge
        fields = (
            "delivered_at",
            "contact",
            "template",
            "category",
            "market",
            "rate",
            "reason",
        )
        attrs = {"class": "table table-sm align-middle"}
        empty_text = _("No messages.")

    def __init__(self, *args, zone, currency, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone, self.currency = zone, currency

    def render_delivered_at(self, value):
        return in_zone(value, self.zone).strftime("%Y-%m-%d %H:%M")

    def render_contact(self, record):
        return record.message.conversation.contact.masked_number

    def render_template(self, record):
        if record.message.template:
            return record.message.template.name
        return _("Free-form message")

    def render_category(self, record):
        return record.get_category_display()

    def render_rate(self, record):
        return rate(record.rate, self.currency)

    def render_reason(self, record):
        return reason_text(record, self.zone)
