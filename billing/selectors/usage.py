"""The month so far as a read (D1-D3): the synced sums of the company's unbilled
charges, made into the invoice's lines by the invoice's own code
(``billing.invoicing``). Plain SELECTs: no write, no lock, nothing computed
per charge, so a GET costs the same at 10 or 10 million messages."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone

from accounts.models import Company

from .. import invoicing, rules
from ..models import Invoice, Market, UsageSnapshot


@dataclass(frozen=True)
class Unpriced:
    """Charged messages of a (category, market) the rate cards do not price yet
    (C6): left out of the month so far's total; the invoice waits for the rate."""

    category: str
    market: str
    messages: int


@dataclass(frozen=True)
class MonthSoFar:
    invoice: Invoice  # not saved: the draft the month would get now
    lines: list
    synced_at: datetime | None  # None: never synced yet (shown as empty)
    days: dict  # {date: {category: Decimal}} billable charges per day
    activity: dict  # {date: {kind: int}} messages per day (the chart)
    unpriced: list[Unpriced]  # charged without a rate yet, not in the total


def month_so_far(*, company: Company, at: datetime | None = None) -> MonthSoFar:
    """The month so far of ``company`` at ``at`` (now), as of its last sync:
    the same lines and totals the invoice computed from the same charges has."""
    from ..services.license_fee import license_fee_compute

    at = at or timezone.now()
    zone = company.zone
    month = rules.month_of(at, zone)
    start, end = rules.month_bounds(month, zone)
    snapshot = UsageSnapshot.objects.filter(company=company).first()
    groups = invoicing.groups_load(snapshot.groups) if snapshot else []
    # C7: late charges of months whose invoice is finalized are carried over.
    frozen = set(
        Invoice.objects.filter(
            company=company, status__in=Invoice.FROZEN, period_end__lte=start
        ).values_list("month", flat=True)
    )
    groups = [g for g in groups if g["orig"] == month or g["orig"] in frozen]
    unpriced = _unpriced(groups)
    groups = [g for g in groups if not (g["billable"] and g["rate"] is None)]
    fee = license_fee_compute(company=company, month=month)
    totals = invoicing.invoice_totals(
        company=company, month=month, fee=fee, groups=groups
    )
    markets = {
        m.pk: m
        for m in Market.objects.filter(
            pk__in={line.market_id for line in totals.lines if line.market_id}
        )
    }
    invoice = Invoice(
        company=company,
        month=month,
        period_start=start,
        period_end=end,
        currency=company.billing_currency,
        tax_rate=company.tax_rate,
        subtotal=totals.subtotal,
        tax=totals.tax,
        total=totals.total,
        free_templates=totals.free_templates,
    )
    for line in totals.lines:
        line.invoice = invoice
        if line.market_id:
            line.market = markets[line.market_id]
    days, activity = {}, {}
    if snapshot:
        for day, cats in snapshot.days.items():
            d = date.fromisoformat(day)
            if start.astimezone(zone).date() <= d:
                days[d] = {c: Decimal(v) for c, v in cats.items()}
        activity = {date.fromisoformat(d): k for d, k in snapshot.activity.items()}
    return MonthSoFar(
        invoice=invoice,
        lines=totals.lines,
        synced_at=snapshot.synced_at if snapshot else None,
        days=days,
        activity=activity,
        unpriced=unpriced,
    )


def _unpriced(groups: list[dict]) -> list[Unpriced]:
    counts: dict[tuple[str, str], int] = {}
    for g in groups:
        if g["billable"] and g["rate"] is None:
            key = (g["category"], g["market_name"])
            counts[key] = counts.get(key, 0) + g["n"]
    return [Unpriced(c, m, n) for (c, m), n in sorted(counts.items())]
