"""Volume tiers (F3): the graduated rates applied to a draft's charged messages."""

from datetime import date, datetime

from django.db.models import (
    Q,
)

from accounts.models import Company

from .. import rules
from ..models import (
    Charge,
    Invoice,
    VolumeTier,
)
from ..selectors.pricing import tier_sets


def _at_or_after(key: tuple[datetime, int]) -> Q:
    """Charges at or after (delivered_at, message_id) ``key`` in billing order."""
    return Q(delivered_at__gt=key[0]) | Q(delivered_at=key[0], message_id__gte=key[1])


def tiers_apply(*, company: Company, invoice: Invoice) -> int:
    """F3: price the draft's charged utility and authentication messages by the
    graduated tiers of their delivery month: the n-th charged message of the
    month (company zone, ordered by delivery) takes the rate of the tier that
    contains n. Free messages do not count; messages of the month already on a
    finalized invoice (C7) count first. One UPDATE per tier, not per message."""
    if not VolumeTier.objects.filter(company=company).exists():
        return 0
    charged = Charge.objects.filter(
        invoice=invoice, billable=True, category__in=rules.TIERED_CATEGORIES
    )
    months = {
        date(at.year, at.month, 1)
        for at in charged.datetimes("delivered_at", "month", tzinfo=company.zone)
    }
    updated = 0
    for month in sorted(months):
        start, end = rules.month_bounds(month, company.zone)
        for (market, category), tiers in tier_sets(
            company=company, month=month
        ).items():
            group = Charge.objects.filter(
                company=company,
                billable=True,
                market_id=market,
                category=category,
                delivered_at__gte=start,
                delivered_at__lt=end,
            )
            mine = group.filter(invoice=invoice).order_by("delivered_at", "message_id")
            offset = (
                group.exclude(invoice=invoice).exclude(invoice__isnull=True).count()
            )
            count = mine.count()
            for tier, lo, hi in rules.tier_spans(tiers, already=offset, count=count):
                rows = mine.filter(
                    _at_or_after(mine.values_list("delivered_at", "message_id")[lo])
                )
                if hi < count:
                    rows = rows.exclude(
                        _at_or_after(mine.values_list("delivered_at", "message_id")[hi])
                    )
                updated += rows.update(
                    rate=tier.rate, amount=tier.rate, tier_id=tier.id
                )
    return updated
