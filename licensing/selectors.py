from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Company, User
from accounts.periods import month_bounds, month_of

from . import activity, rules
from .models import (
    IdleLicenseNotice,
    LicenseAssignment,
    LicenseCountChange,
    LicensePrice,
    LicenseRequest,
)


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


# --- License insight ----------------------------------------------------------


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


def license_prices_at(
    *, companies: Iterable[Company], at: datetime
) -> dict[int, Decimal | None]:
    """Return each company's price per license at ``at`` (A2), in one query.

    Same choice as ``license_price_history``: the negotiated prices in the
    billing currency, preceded by the price list defaults effective before the
    first of them; only the defaults when nothing was negotiated.
    """
    companies = list(companies)
    if not companies:
        return {}
    rows = list(
        LicensePrice.objects.filter(
            Q(company__in=[c.pk for c in companies])
            | Q(
                company__isnull=True,
                currency__in={c.billing_currency for c in companies},
            )
        )
        .order_by("effective_at", "id")
        .values_list("company_id", "currency", "effective_at", "monthly_amount")
    )
    prices: dict[int, Decimal | None] = {}
    for company in companies:
        currency = company.billing_currency
        negotiated = [
            (e, a) for cid, cur, e, a in rows if cid == company.pk and cur == currency
        ]
        defaults = [
            (e, a) for cid, cur, e, a in rows if cid is None and cur == currency
        ]
        if negotiated:
            history = [d for d in defaults if d[0] < negotiated[0][0]] + negotiated
        else:
            history = defaults
        prices[company.pk] = rules.value_in_force(history, at=at, default=None)
    return prices


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


# --- License requests ---------------------------------------------------------


def license_request_list(
    *, company: Company, status: str | None = None
) -> QuerySet[LicenseRequest]:
    queryset = LicenseRequest.objects.filter(company=company).select_related(
        "user", "decided_by"
    )
    if status is not None:
        queryset = queryset.filter(status=status)
    return queryset


def license_request_get(*, company: Company, pk: int) -> LicenseRequest:
    """Return the company's request ``pk``; another company's raises DoesNotExist."""
    return LicenseRequest.objects.select_related("user", "company").get(
        company=company, pk=pk
    )


def license_requests_of(*, user: User) -> QuerySet[LicenseRequest]:
    """The user's own requests, newest first (what the requester sees)."""
    return LicenseRequest.objects.filter(user=user).select_related("decided_by")


def companies_with_idle_licenses(*, at: datetime) -> list[int]:
    """Ids of the companies holding at least one idle license at ``at``."""
    return sorted(set(idle_assignments(at=at).values_list("company_id", flat=True)))


def idle_license_notices_unsent(
    *,
    at: datetime,
    older_than: timedelta = timedelta(minutes=10),
    within: timedelta = timedelta(days=7),
) -> list[int]:
    """Notices recorded (``older_than`` ago, at most ``within``) but not emailed:
    their email task was lost (broker down) or gave up (mail server down)."""
    return list(
        IdleLicenseNotice.objects.filter(
            emailed_at__isnull=True,
            created_at__lt=at - older_than,
            created_at__gte=at - within,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:500]
    )
