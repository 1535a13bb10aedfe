"""License insight: the holders' sends, idle licenses and what revoking them saves
(F6). The sends are messaging's, asked through ``licensing.activity``."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from accounts.models import Company, User
from accounts.periods import month_bounds, month_of

from .. import activity, rules
from ..models import LicenseAssignment
from .assignments import active_assignments
from .history import license_price_at, license_prices_at
from .summary import LicenseSummary


def _months_of(
    *, zones: Iterable[str], at: datetime
) -> dict[str, tuple[datetime, datetime]]:
    """The billing month (C7: the company's zone) holding ``at``, for each zone."""
    months = {}
    for zone in sorted(set(zones)):
        months[zone] = month_bounds(month_of(at, ZoneInfo(zone)), ZoneInfo(zone))
    return months


def assignments_with_activity(
    queryset: QuerySet[LicenseAssignment],
    *,
    at: datetime,
    zones: Iterable[str] | None = None,
) -> QuerySet[LicenseAssignment]:
    """Annotate each assignment with its user's sends, in one aggregate query.

    ``templates_this_month`` and ``messages_this_month`` count the user's outbound
    messages (templates included in the second) in the company's billing month of
    ``at``; ``last_sent_at`` is the user's latest outbound message at any time,
    also before this assignment. ``zones`` are the billing time zones of the
    companies involved (all companies' zones when not given: one more query).
    The sends are messaging's (``activity.SendActivity``).
    """
    if zones is None:
        zones = (
            Company.objects.order_by()
            .values_list("billing_timezone", flat=True)
            .distinct()
        )
    return activity.provider().assignments_with_sends(
        queryset, months=_months_of(zones=zones, at=at)
    )


def idle_assignments(
    *, at: datetime, company: Company | None = None
) -> QuerySet[LicenseAssignment]:
    """Active assignments idle at ``at`` (rules.license_is_idle, as a query).

    Uses the rule's own cutoff, so the exact boundary (30 days: idle) is the same.
    """
    cutoff = rules.idle_cutoff(at=at)
    queryset = LicenseAssignment.objects.filter(
        revoked_at__isnull=True, assigned_at__lte=cutoff
    )
    if company is not None:
        queryset = queryset.filter(company=company)
    return (
        activity.provider()
        .assignments_with_last_send(queryset)
        .filter(Q(last_sent_at__isnull=True) | Q(last_sent_at__lte=cutoff))
    )


@dataclass
class LicenseInsight:
    """What /licenses/ shows about the licenses' use at ``at``."""

    at: datetime
    currency: str
    monthly_price: Decimal | None
    # Active assignments annotated by assignments_with_activity, plus ``is_idle``.
    holders: list[LicenseAssignment] = field(default_factory=list)
    readers: list[User] = field(default_factory=list)

    @property
    def idle(self) -> list[LicenseAssignment]:
        return [a for a in self.holders if a.is_idle]

    @property
    def idle_count(self) -> int:
        return len(self.idle)

    @property
    def idle_saving(self) -> Decimal | None:
        return rules.idle_saving(
            idle_count=self.idle_count, monthly_price=self.monthly_price
        )


def license_insight(
    *, company: Company, at: datetime, summary: LicenseSummary | None = None
) -> LicenseInsight:
    """Licensed users with their sends this month, last send and idleness, and
    the users without a license; a constant number of queries.

    ``summary`` (the same company at the same ``at``) saves looking up the price.
    """
    holders = list(
        assignments_with_activity(
            active_assignments(company=company)
            .select_related("user", "assigned_by")
            .order_by("user__full_name", "user__email"),
            at=at,
            zones=[company.billing_timezone],
        )
    )
    for assignment in holders:
        assignment.is_idle = rules.license_is_idle(
            assigned_at=assignment.assigned_at,
            last_sent_at=assignment.last_sent_at,
            at=at,
        )
    readers = list(
        company.users.filter(is_active=True)
        .exclude(pk__in=active_assignments(company=company).values("user_id"))
        .order_by("full_name", "email")
    )
    return LicenseInsight(
        at=at,
        currency=company.billing_currency,
        monthly_price=(
            summary.monthly_price
            if summary is not None
            else license_price_at(company=company, at=at)
        ),
        holders=holders,
        readers=readers,
    )


@dataclass(frozen=True)
class CompanyIdleLicenses:
    """One company's idle licenses and what revoking them saves per month."""

    company: Company
    assignments: list[LicenseAssignment]
    monthly_price: Decimal | None

    @property
    def idle_count(self) -> int:
        return len(self.assignments)

    @property
    def saving(self) -> Decimal | None:
        return rules.idle_saving(
            idle_count=self.idle_count, monthly_price=self.monthly_price
        )

    @property
    def currency(self) -> str:
        return self.company.billing_currency


def idle_licenses_by_company(
    *, at: datetime, company: Company | None = None
) -> list[CompanyIdleLicenses]:
    """Every company with idle licenses at ``at`` (two queries), by company name."""
    by_company: dict[int, list[LicenseAssignment]] = {}
    companies: dict[int, Company] = {}
    for assignment in (
        idle_assignments(at=at, company=company)
        .select_related("company", "user")
        .order_by("company__name", "company_id", "user__full_name", "user__email")
    ):
        by_company.setdefault(assignment.company_id, []).append(assignment)
        companies[assignment.company_id] = assignment.company
    prices = license_prices_at(companies=companies.values(), at=at)
    return [
        CompanyIdleLicenses(
            company=companies[pk],
            assignments=assignments,
            monthly_price=prices[pk],
        )
        for pk, assignments in by_company.items()
    ]


def companies_with_idle_licenses(*, at: datetime) -> list[int]:
    """Ids of the companies holding at least one idle license at ``at``."""
    return sorted(set(idle_assignments(at=at).values_list("company_id", flat=True)))
