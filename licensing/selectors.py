from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Company, User

from . import rules
from .models import LicenseAssignment, LicenseCountChange, LicensePrice


def license_count_history(*, company: Company) -> list[tuple[datetime, int]]:
    return list(
        LicenseCountChange.objects.filter(company=company)
        .order_by("effective_at", "id")
        .values_list("effective_at", "quantity")
    )


def license_price_history(*, company: Company) -> list[tuple[datetime, Decimal]]:
    """Return the company's negotiated prices, else the price list default (A2)."""
    negotiated = list(
        LicensePrice.objects.filter(company=company, currency=company.billing_currency)
        .order_by("effective_at", "id")
        .values_list("effective_at", "monthly_amount")
    )
    if negotiated:
        default = list(
            LicensePrice.objects.filter(
                company__isnull=True,
                currency=company.billing_currency,
                effective_at__lt=negotiated[0][0],
            )
            .order_by("effective_at", "id")
            .values_list("effective_at", "monthly_amount")
        )
        return default + negotiated
    return list(
        LicensePrice.objects.filter(
            company__isnull=True, currency=company.billing_currency
        )
        .order_by("effective_at", "id")
        .values_list("effective_at", "monthly_amount")
    )


def license_price_at(*, company: Company, at: datetime) -> Decimal | None:
    return rules.value_in_force(
        license_price_history(company=company), at=at, default=None
    )


def active_assignments(*, company: Company) -> QuerySet[LicenseAssignment]:
    return LicenseAssignment.objects.filter(company=company, revoked_at__isnull=True)


def user_holds_license(*, user: User, at: datetime) -> bool:
    """A4: whether ``user`` holds a license at instant ``at``."""
    return (
        LicenseAssignment.objects.filter(user=user, assigned_at__lte=at)
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=at))
        .exists()
    )


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


def licensed_user_ids(*, company: Company) -> set[int]:
    return set(active_assignments(company=company).values_list("user_id", flat=True))


def license_holders(*, company: Company) -> tuple[list[LicenseAssignment], list[User]]:
    """Active assignments (with their users) and the company's users without one."""
    holders = list(
        active_assignments(company=company)
        .select_related("user", "assigned_by")
        .order_by("user__full_name", "user__email")
    )
    licensed = {a.user_id for a in holders}
    readers = [
        u
        for u in company.users.filter(is_active=True).order_by("full_name", "email")
        if u.pk not in licensed
    ]
    return holders, readers
