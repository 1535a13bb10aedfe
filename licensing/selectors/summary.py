"""Purchased, assigned and free licenses and the monthly fee, per company (A1-A3)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Company

from .. import rules
from ..models import LicenseCountChange
from .assignments import active_assignments
from .history import license_count_history, license_price_at


@dataclass(frozen=True)
class LicenseSummary:
    purchased: int
    assigned: int
    free: int
    monthly_price: Decimal | None
    currency: str

    @property
    def monthly_fee(self) -> Decimal | None:
        if self.monthly_price is None:
            return None
        return self.monthly_price * self.purchased


def license_summary(*, company: Company, at: datetime | None = None) -> LicenseSummary:
    at = at or timezone.now()
    purchased = rules.value_in_force(
        license_count_history(company=company), at=at, default=0
    )
    assigned = active_assignments(company=company).count()
    return LicenseSummary(
        purchased=purchased,
        assigned=assigned,
        free=rules.seats_free(purchased=purchased, assigned=assigned),
        monthly_price=license_price_at(company=company, at=at),
        currency=company.billing_currency,
    )


def company_list_with_licenses(*, at: datetime | None = None) -> QuerySet[Company]:
    """Companies annotated with ``licenses_purchased`` and ``licenses_assigned``."""
    at = at or timezone.now()
    purchased = (
        LicenseCountChange.objects.filter(company=OuterRef("pk"), effective_at__lte=at)
        .order_by("-effective_at", "-id")
        .values("quantity")[:1]
    )
    return Company.objects.annotate(
        licenses_purchased=Coalesce(Subquery(purchased), 0),
        licenses_assigned=Count(
            "license_assignments",
            filter=Q(license_assignments__revoked_at__isnull=True),
            distinct=True,
        ),
    )
