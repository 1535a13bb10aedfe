"""Reads that decide what the scheduled billing runs do (D3): months still to bill, drafts
due for finalization."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import (
    OuterRef,
    Subquery,
)

from accounts.models import Company
from licensing.models import LicenseCountChange
from messaging.models import Message

from .. import rules
from ..models import (
    Invoice,
)


def months_to_bill(*, at: datetime) -> list[tuple[int, date]]:
    """D3: every (company, month) that has ended in the company's zone and has no
    invoice yet, oldest first, from the company's start of billing
    (``rules.billing_start``). A missed run is caught up by the next one; months
    already invoiced (draft or frozen) are left to finalization. Two queries."""
    first_license = LicenseCountChange.objects.filter(company=OuterRef("pk"))
    first_delivery = Message.objects.filter(
        company=OuterRef("pk"), delivered_at__isnull=False
    )
    companies = Company.objects.annotate(
        first_license=Subquery(
            first_license.order_by("effective_at").values("effective_at")[:1]
        ),
        first_delivery=Subquery(
            first_delivery.order_by("delivered_at").values("delivered_at")[:1]
        ),
    ).values_list(
        "pk", "billing_timezone", "created_at", "first_license", "first_delivery"
    )
    due = []
    for pk, tz, created_at, first_license_at, first_delivery_at in companies:
        zone = ZoneInfo(tz)
        start = rules.billing_start(
            created_at=created_at,
            first_facts=(first_license_at, first_delivery_at),
            zone=zone,
        )
        due += [(pk, m) for m in rules.months_ended_since(start, at=at, zone=zone)]
    if not due:
        return []
    invoiced = set(
        Invoice.objects.filter(month__gte=min(m for _, m in due)).values_list(
            "company_id", "month"
        )
    )
    return sorted(
        ((pk, m) for pk, m in due if (pk, m) not in invoiced), key=lambda d: d[1]
    )


def drafts_due_for_finalization(*, at: datetime, grace: timedelta) -> list[int]:
    """Drafts whose month ended more than ``grace`` ago (late webhooks have landed)."""
    return list(
        Invoice.objects.filter(status=Invoice.Status.DRAFT, period_end__lte=at - grace)
        .order_by("period_end", "pk")
        .values_list("pk", flat=True)
    )
