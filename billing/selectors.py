"""Reads for the portal and exports; every queryset is scoped to one company."""

from collections import defaultdict
from datetime import date, datetime

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDay
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from accounts.models import Company
from messaging.models import Message

from .models import Charge, Invoice, InvoiceLine
from .rules import Reason, month_bounds


def invoice_list(*, company: Company) -> QuerySet[Invoice]:
    return Invoice.objects.filter(company=company).order_by("-month")


def invoice_get(*, company: Company, pk: int) -> Invoice:
    """The company's invoice or 404: another company's id is indistinguishable."""
    return get_object_or_404(
        Invoice.objects.select_related("company"), company=company, pk=pk
    )


def invoice_lines(*, invoice: Invoice) -> list[InvoiceLine]:
    return list(invoice.lines.select_related("market").order_by("position", "id"))


def line_get(*, invoice: Invoice, pk: int) -> InvoiceLine:
    return get_object_or_404(
        InvoiceLine.objects.select_related("market", "invoice__company"),
        invoice=invoice,
        pk=pk,
        kind__in=[InvoiceLine.Kind.USAGE, InvoiceLine.Kind.CARRIED_OVER],
    )


def _charges(invoice: Invoice) -> QuerySet[Charge]:
    return (
        Charge.objects.filter(invoice=invoice)
        .select_related(
            "market",
            "message__template",
            "message__conversation__contact",
            "window_message",
        )
        .order_by("delivered_at", "id")
    )


def line_charges(*, line: InvoiceLine) -> QuerySet[Charge]:
    """D4: every charged message behind one usage line."""
    charges = _charges(line.invoice).filter(
        billable=True,
        category=line.category,
        market_id=line.market_id,
        rate=line.unit_price,
    )
    if line.kind == InvoiceLine.Kind.CARRIED_OVER:
        start, end = month_bounds(line.original_month, line.invoice.company.zone)
        return charges.filter(delivered_at__gte=start, delivered_at__lt=end).filter(
            delivered_at__lt=line.invoice.period_start
        )
    return charges.filter(delivered_at__gte=line.invoice.period_start)


def free_charges(*, invoice: Invoice) -> QuerySet[Charge]:
    """D4: every template on the invoice that was free, with its window message."""
    return _charges(invoice).filter(billable=False)


def billable_charges(*, invoice: Invoice) -> QuerySet[Charge]:
    return _charges(invoice).filter(billable=True)


def reason_text(charge: Charge, zone) -> str:
    """D4: why a delivered template was charged or free, in words."""
    from django.utils import timezone

    delivered = timezone.localtime(charge.delivered_at, zone)
    if charge.reason == Reason.UTILITY_IN_WINDOW and charge.window_opened_at:
        opened = timezone.localtime(charge.window_opened_at, zone)
        return _(
            "Free: utility template delivered %(delivered)s while the window opened by "
            "the contact's message at %(opened)s was open."
        ) % {
            "delivered": delivered.strftime("%Y-%m-%d %H:%M"),
            "opened": opened.strftime("%Y-%m-%d %H:%M"),
        }
    texts = {
        Reason.MARKETING: _("Charged: marketing templates are charged on delivery."),
        Reason.AUTHENTICATION: _(
            "Charged: authentication templates are charged on delivery."
        ),
        Reason.UTILITY_NO_WINDOW: _(
            "Charged: utility template delivered with no customer service window open."
        ),
    }
    return texts.get(charge.reason, charge.reason)


def daily_activity(*, company: Company, start: datetime, end: datetime, zone) -> dict:
    """Messages per local day by kind and charges per day by category, for the chart."""
    days: dict[date, dict[str, int]] = defaultdict(dict)
    rows = (
        Message.objects.filter(
            company=company, provider_timestamp__gte=start, provider_timestamp__lt=end
        )
        .annotate(day=TruncDay("provider_timestamp", tzinfo=zone))
        .values("day", "direction", "template_category")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        if row["direction"] == Message.Direction.INBOUND:
            kind = "inbound"
        else:
            kind = row["template_category"] or "free_form"
        day = row["day"].date()
        days[day][kind] = days[day].get(kind, 0) + row["n"]
    return days


def daily_charges(*, company: Company, start: datetime, end: datetime, zone) -> dict:
    amounts: dict[date, dict[str, object]] = defaultdict(dict)
    rows = (
        Charge.objects.filter(
            company=company,
            billable=True,
            delivered_at__gte=start,
            delivered_at__lt=end,
        )
        .annotate(day=TruncDay("delivered_at", tzinfo=zone))
        .values("day", "category")
        .annotate(amount=Sum("amount"), n=Count("id"))
        .order_by()
    )
    for row in rows:
        amounts[row["day"].date()][row["category"]] = row["amount"]
    return amounts
