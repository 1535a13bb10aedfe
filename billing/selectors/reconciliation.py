"""Reads of pricing disagreements (F4) for the portal, the admin and finalization."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Q, QuerySet

from accounts.models import Company

from ..models import Invoice, PricingDisagreement


def unreviewed_count(*, invoice: Invoice) -> int:
    """F4: how many disagreements of the invoice nobody has reviewed yet."""
    return PricingDisagreement.objects.filter(
        invoice=invoice, reviewed_at__isnull=True
    ).count()


@dataclass(frozen=True)
class MonthSummary:
    month: date
    invoice_id: int
    invoice_number: str | None
    invoice_status: str
    total: int
    unreviewed: int
    billable: int
    category: int

    @property
    def reviewed(self) -> int:
        return self.total - self.unreviewed


def disagreement_months(*, company: Company) -> list[MonthSummary]:
    """F4: the company's disagreements per month, newest first (one query)."""
    open_ = Q(reviewed_at__isnull=True)
    rows = (
        PricingDisagreement.objects.filter(company=company)
        .values("month", "invoice_id", "invoice__number", "invoice__status")
        .annotate(
            total=Count("pk"),
            unreviewed=Count("pk", filter=open_),
            billable=Count("pk", filter=Q(kind=PricingDisagreement.Kind.BILLABLE)),
            category=Count("pk", filter=Q(kind=PricingDisagreement.Kind.CATEGORY)),
        )
        .order_by("-month")
    )
    return [
        MonthSummary(
            month=row["month"],
            invoice_id=row["invoice_id"],
            invoice_number=row["invoice__number"],
            invoice_status=row["invoice__status"],
            total=row["total"],
            unreviewed=row["unreviewed"],
            billable=row["billable"],
            category=row["category"],
        )
        for row in rows
    ]


def disagreement_list(
    *, company: Company, month: date | None = None
) -> QuerySet[PricingDisagreement]:
    """F4: the company's disagreements (of one month) with the messages behind them."""
    rows = PricingDisagreement.objects.filter(company=company)
    if month is not None:
        rows = rows.filter(month=month)
    return rows.select_related(
        "message__template", "message__conversation__contact"
    ).order_by("delivered_at", "id")


def invoice_disagreement_counts(*, invoice: Invoice) -> tuple[int, int]:
    """F4: (disagreements, unreviewed ones) of an invoice, in one query."""
    counts = PricingDisagreement.objects.filter(invoice=invoice).aggregate(
        total=Count("pk"), unreviewed=Count("pk", filter=Q(reviewed_at__isnull=True))
    )
    return counts["total"], counts["unreviewed"]
