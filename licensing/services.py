"""License writes (A1-A4). Every path (admin, demo, API) goes through these."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.locks import company_lock
from accounts.models import Company, Team, User

from . import rules
from .exceptions import (
    CountBelowAssigned,
    ForeignUser,
    InactiveUser,
    InvalidLicenseChange,
    SeatLimitExceeded,
    SenderNotLicensed,
)
from .models import LicenseAssignment, LicenseCountChange, LicensePrice
from .selectors import active_assignments, license_count_history, user_holds_license


def _effective_at_validate(effective_at: datetime | None, now: datetime) -> datetime:
    if effective_at is None:
        return now
    if timezone.is_naive(effective_at):
        raise InvalidLicenseChange("The effective time needs a time zone.")
    if effective_at < now:
        raise InvalidLicenseChange(
            "A change cannot take effect in the past; closed months are already billed."
        )
    return effective_at


@transaction.atomic
def license_count_set(
    *,
    company: Company,
    quantity: int,
    actor: User | None,
    effective_at: datetime | None = None,
    note: str = "",
) -> LicenseCountChange:
    """Record a new purchased license count (A1); refuse one below the assignments (A3)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise InvalidLicenseChange(
            f"The license count must be a whole number of 0 or more, not {quantity!r}."
        )
    now = timezone.now()
    effective_at = _effective_at_validate(effective_at, now)
    company = company_lock(company)
    history = license_count_history(company=company)
    history.append((effective_at, quantity))
    limit = rules.seat_limit_from(history, at=now)
    assigned = active_assignments(company=company).count()
    if assigned > limit:
        raise CountBelowAssigned(
            f"{company} has {assigned} licenses assigned; the count cannot go below "
            f"that (asked {quantity}). Revoke {assigned - limit} first."
        )
    return LicenseCountChange.objects.create(
        company=company,
        quantity=quantity,
        effective_at=effective_at,
        note=note,
        created_by=actor,
        created_at=now,
    )


@transaction.atomic
def license_price_set(
    *,
    company: Company | None,
    monthly_amount: Decimal | str,
    currency: str,
    actor: User | None,
    effective_at: datetime | None = None,
    note: str = "",
) -> LicensePrice:
    """Record a negotiated price (or, with no company, a price list default) (A2)."""
    try:
        amount = Decimal(str(monthly_amount))
    except InvalidOperation as exc:
        raise InvalidLicenseChange(f"{monthly_amount!r} is not an amount.") from exc
    if not amount.is_finite() or amount < 0:
        raise InvalidLicenseChange("A license price must be 0 or more.")
    if amount != amount.quantize(Decimal("0.0001")):
        raise InvalidLicenseChange("A license price has at most four decimals.")
    currency = (currency or "").upper()
    if company is not None and currency != company.billing_currency:
        raise InvalidLicenseChange(
            f"{company} is billed in {company.billing_currency}, not {currency}."
        )
    now = timezone.now()
    effective_at = _effective_at_validate(effective_at, now)
    if company is not None:
        company_lock(company)
    return LicensePrice.objects.create(
        company=company,
        currency=currency,
        monthly_amount=amount,
        effective_at=effective_at,
        note=note,
        created_by=actor,
        created_at=now,
    )


@dataclass
class AssignmentResult:
    assigned: list[User] = field(default_factory=list)
    already_licensed: list[User] = field(default_factory=list)
    revoked: list[User] = field(default_factory=list)
    not_licensed: list[User] = field(default_factory=list)


@transaction.atomic
def license_assign(*, company: Company, users, actor: User | None) -> AssignmentResult:
    """Assign one license to each user, all or nothing (A3).

    Users who already hold a license keep it and are reported, not counted twice.
    Refused as a whole (nothing changes) when a user belongs to another company,
    is inactive, or when the new assignments would exceed the purchased count.
    """
    users = list(users)
    foreign = sorted(u.email for u in users if u.company_id != company.pk)
    if foreign:
        raise ForeignUser(
            f"{', '.join(foreign)} not in {company}: licenses are assigned only to "
            "the company's own users. Nothing was assigned."
        )
    inactive = sorted(u.email for u in users if not u.is_active)
    if inactive:
        raise InactiveUser(
            f"{', '.join(inactive)} inactive: reactivate before assigning a license. "
            "Nothing was assigned."
        )
    now = timezone.now()
    company = company_lock(company)
    holders = set(active_assignments(company=company).values_list("user_id", flat=True))
    result = AssignmentResult()
    seen: set[int] = set()
    for user in users:
        if user.pk in seen:
            continue
        seen.add(user.pk)
        (result.already_licensed if user.pk in holders else result.assigned).append(
            user
        )
    limit = rules.seat_limit_from(license_count_history(company=company), at=now)
    if not rules.assignment_fits(
        purchased=limit, assigned=len(holders), requested=len(result.assigned)
    ):
        free = rules.seats_free(purchased=limit, assigned=len(holders))
        raise SeatLimitExceeded(
            f"{company} has {free} free license(s) of {limit}; assigning "
            f"{len(result.assigned)} would exceed it. Nothing was assigned; buy more "
            "licenses or revoke some first."
        )
    LicenseAssignment.objects.bulk_create(
        [
            LicenseAssignment(
                company=company, user=u, assigned_at=now, assigned_by=actor
            )
            for u in result.assigned
        ]
    )
    return result


def license_assign_team(*, team: Team, actor: User | None) -> AssignmentResult:
    return license_assign(company=team.company, users=team.members.all(), actor=actor)


def license_assign_company(*, company: Company, actor: User | None) -> AssignmentResult:
    return license_assign(
        company=company, users=company.users.filter(is_active=True), actor=actor
    )


@transaction.atomic
def license_revoke(*, company: Company, users, actor: User | None) -> AssignmentResult:
    """Revoke the users' licenses at once (A4: takes effect immediately)."""
    users = list(users)
    foreign = sorted(u.email for u in users if u.company_id != company.pk)
    if foreign:
        raise ForeignUser(
            f"{', '.join(foreign)} not in {company}. Nothing was revoked."
        )
    now = timezone.now()
    company = company_lock(company)
    active = {
        a.user_id: a
        for a in active_assignments(company=company).filter(
            user__in=[u.pk for u in users]
        )
    }
    result = AssignmentResult()
    for user in users:
        (result.revoked if user.pk in active else result.not_licensed).append(user)
    LicenseAssignment.objects.filter(pk__in=[a.pk for a in active.values()]).update(
        revoked_at=now, revoked_by=actor
    )
    return result


def license_revoke_team(*, team: Team, actor: User | None) -> AssignmentResult:
    return license_revoke(company=team.company, users=team.members.all(), actor=actor)


def license_revoke_company(*, company: Company, actor: User | None) -> AssignmentResult:
    return license_revoke(company=company, users=company.users.all(), actor=actor)


def send_permission_check(*, user: User, company: Company, at: datetime) -> None:
    """Raise unless ``user`` may send for ``company`` at ``at`` (A4).

    The one permission check of every send path (web, API, admin, demo).
    """
    if user.company_id != company.pk:
        raise SenderNotLicensed(
            _("%(email)s is not a user of %(company)s and cannot send its messages.")
            % {"email": user.email, "company": company}
        )
    holds = user_holds_license(user=user, at=at)
    if not rules.may_send(user_is_active=user.is_active, holds_license=holds):
        raise SenderNotLicensed(
            _(
                "%(email)s holds no WhatsApp license: users without one can read "
                "conversations but not send. Ask your company admin for a license."
            )
            % {"email": user.email}
        )
