"""Reads for the portal and exports; every queryset is scoped to one company."""

from collections import defaultdict
from datetime import date, datetime

from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDay, TruncMonth
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from accounts.models import Company
from accounts.periods import month_bounds
from messaging.models import Message

from ..models import Charge, Invoice, InvoiceLine
from ..money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, ZERO
from ..rules import Reason


def invoice_list(*, company: Company) -> QuerySet[Invoice]:
    return Invoice.objects.filter(company=company).order_by("-month")


def invoice_get(*, company: Company, pk: int) -> Invoice:
    """The company's invoice or 404: another company's id is indistinguishable."""
    return get_object_or_404(
        Invoice.objects.select_related("company"), company=company, pk=pk
    )


def invoice_lines(*, invoice: Invoice) -> list[InvoiceLine]:
    return list(invoice.lines.select_related("market").order_by("position", "id"))


def creditable_lines(*, invoice: Invoice) -> QuerySet[InvoiceLine]:
    """D2: the lines a credit note may credit (all but tax), each annotated with
    ``credited`` (by earlier credit notes) and ``left`` (what may still be)."""
    money = DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    credited = Coalesce(Sum("credits__amount"), Value(ZERO), output_field=money)
    return (
        invoice.lines.exclude(kind=InvoiceLine.Kind.TAX)
        .annotate(credited=credited)
        .annotate(left=ExpressionWrapper(F("amount") - F("credited"), money))
        .order_by("position", "pk")
    )


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
            "policy",
            "entry_point_message",
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
        tier_id=(line.details or {}).get("tier_id"),
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
    """D4: why a delivered message was charged or free, in words."""
    from django.utils import timezone

    def local(at):
        return timezone.localtime(at, zone).strftime("%Y-%m-%d %H:%M")

    delivered = local(charge.delivered_at)
    # The seeded policies' names are translated; others keep what was typed.
    policy = _(charge.policy.name) if charge.policy_id else _("the standard rules")
    if charge.reason == Reason.UTILITY_IN_WINDOW and charge.window_opened_at:
        return _(
            "Free: utility template delivered %(delivered)s while the window opened by "
            "the contact's message at %(opened)s was open."
        ) % {"delivered": delivered, "opened": local(charge.window_opened_at)}
    if charge.reason == Reason.ENTRY_POINT and charge.entry_point_opened_at:
        return _(
            "Free: delivered %(delivered)s inside the 72-hour free entry point window "
            "opened by your answer at %(answered)s to the contact's message from an "
            "ad at %(clicked)s."
        ) % {
            "delivered": delivered,
            "answered": local(charge.entry_point_opened_at),
            "clicked": local(charge.entry_point_message.provider_timestamp),
        }
    if charge.reason == Reason.UTILITY_IN_WINDOW_CHARGED and charge.window_opened_at:
        return _(
            "Charged under the policy “%(policy)s”: utility template delivered "
            "%(delivered)s inside the window opened at %(opened)s."
        ) % {
            "policy": policy,
            "delivered": delivered,
            "opened": local(charge.window_opened_at),
        }
    texts = {
        Reason.MARKETING: _("Charged: marketing templates are charged on delivery."),
        Reason.AUTHENTICATION: _(
            "Charged: authentication templates are charged on delivery."
        ),
        Reason.UTILITY_NO_WINDOW: _(
            "Charged: utility template delivered with no customer service window open."
        ),
        Reason.SERVICE: _(
            "Charged under the policy “%(policy)s”: free-form message, priced at the "
            "utility rate."
        ),
        Reason.SERVICE_FREE: _("Free: free-form messages are free."),
        Reason.FREE_BY_POLICY: _(
            "Free under the policy “%(policy)s”: this category is not charged there."
        ),
        Reason.PROVIDER_ENTRY_POINT: _(
            "Free: WhatsApp reported it as part of a free entry point conversation."
        ),
        Reason.ENTRY_POINT: _("Free: delivered inside a free entry point window."),
    }
    text = texts.get(charge.reason)
    if text is None:
        return charge.reason
    return text % {"policy": policy} if "%(policy)s" in text else text


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


def charge_groups(*, charges: QuerySet[Charge], zone) -> list[dict]:
    """Charges summed by what makes an invoice line (``billing.invoicing``): the
    month delivered in (``zone``), category, market, rate, tier and billable."""
    rows = (
        charges.annotate(orig_at=TruncMonth("delivered_at", tzinfo=zone))
        .values(
            "orig_at",
            "category",
            "market_id",
            "market__name",
            "rate",
            "tier_id",
            "tier__from_message",
            "billable",
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    return [
        {
            "orig": date(r["orig_at"].year, r["orig_at"].month, 1),
            "category": r["category"],
            "market_id": r["market_id"],
            "market_name": r["market__name"],
            "rate": r["rate"],
            "tier_id": r["tier_id"],
            "tier_from": r["tier__from_message"],
            "billable": r["billable"],
            "n": r["n"],
        }
        for r in rows
    ]


def charge_days(*, charges: QuerySet[Charge], zone) -> dict[str, dict[str, str]]:
    """Billable charges' amounts per local day and category (the usage chart), as
    JSON: {"2026-10-06": {"utility": "0.0200"}}. A charge without a rate yet (C6)
    has no amount and is left out (the invoice names the missing rate)."""
    days: dict[str, dict[str, str]] = defaultdict(dict)
    rows = (
        charges.filter(billable=True, amount__isnull=False)
        .annotate(day=TruncDay("delivered_at", tzinfo=zone))
        .values("day", "category")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    for row in rows:
        days[row["day"].date().isoformat()][row["category"]] = str(row["amount"])
    return dict(days)
