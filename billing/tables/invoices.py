"""The portal's invoice and charge tables."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .. import rules
from ..models import Charge, Invoice
from ..selectors import invoice_customer_status, reason_text
from ..templatetags.billing_tags import in_zone, market_label, money, rate
from ..templatetags.billing_tags import status_badge as customer_badge


def status_badge(invoice: Invoice) -> str:
    """F7: the customer status badge of an invoice of ``invoice_list_documents``
    (annotated) or any other (judged now)."""
    status = getattr(invoice, "customer_status", None) or invoice_customer_status(
        invoice
    )
    return customer_badge(status)


class InvoiceTable(tables.Table):
    """F7: the company's invoices with the status the customer reads and what
    is left to pay (D2: less its credit notes); sorts by number, period, total,
    due date and status."""

    number = tables.Column(
        verbose_name=_("Number"), empty_values=(), order_by=("number",)
    )
    month = tables.DateColumn(verbose_name=_("Period"), format="YEAR_MONTH_FORMAT")
    status = tables.Column(
        verbose_name=_("Status"),
        accessor="customer_status",
        order_by=("status_rank", "-month"),
    )
    due_date = tables.Column(verbose_name=_("Due date"), empty_values=())
    total = tables.Column(
        verbose_name=_("Total"),
        attrs={"td": {"class": "text-end money"}, "th": {"class": "text-end"}},
    )
    amount_due = tables.Column(
        verbose_name=_("Amount due"),
        empty_values=(),
        orderable=False,
        attrs={"td": {"class": "text-end money"}, "th": {"class": "text-end"}},
    )

    class Meta:
        model = Invoice
        fields = ("number", "month", "status", "due_date", "total", "amount_due")
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

    def render_due_date(self, record):
        if record.due_date is None:
            return "—"
        return date_format(record.due_date, "DATE_FORMAT")

    def render_total(self, record):
        return money(record.total, record.currency)

    def render_amount_due(self, record):
        """F7, D2: ``rules.invoice_balance`` of the list's credits (annotated):
        "—" for a draft (an estimate) and a void invoice, 0 once paid."""
        balance = rules.invoice_balance(
            status=record.status,
            total=record.total,
            credits=[record.credits_applied],
        )
        if balance.amount_due is None:
            return "—"
        return money(balance.amount_due, record.currency)


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

    def render_market(self, record):
        return market_label(record.market)

    def render_category(self, record):
        return record.get_category_display()

    def render_rate(self, record):
        return rate(record.rate, self.currency)

    def render_reason(self, record):
        return reason_text(record, self.zone)
