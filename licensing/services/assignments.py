"""Assigning and revoking licenses under the company lock (A3, A4), and the
may-send check of every send path (A4)."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.locks import company_lock
from accounts.models import Company, Team, User

from .. import rules
from ..exceptions import ForeignUser, InactiveUser, SeatLimitExceeded, SenderNotLicensed
from ..models import LicenseAssignment
from ..selectors import active_assignments, license_count_history, user_holds_license


@dataclass
class AssignmentResult:
    assigned: list[User] = field(default_factory=list)
    already_licensed: list[User] = field(default_factory=list)
    revoked: list[User] = field(default_factory=list)
    not_licensed: list[User] = field(default_factory=list)


@transaction.atomic
def license_assign(
    *, company: Company, users, actor: User | None, at: datetime | None = None
) -> AssignmentResult:
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
    company = company_lock(company)
    now = at or timezone.now()  # ``at``: recorded as of then (the demo's history)
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
        asked = len(result.assigned)
        raise SeatLimitExceeded(
            " ".join(
                (
                    ngettext(
                        "%(company)s has %(free)d free license of %(limit)d;",
                        "%(company)s has %(free)d free licenses of %(limit)d;",
                        free,
                    )
                    % {"company": company, "free": free, "limit": limit},
                    ngettext("%(asked)d was asked.", "%(asked)d were asked.", asked)
                    % {"asked": asked},
                    _("Nothing was assigned: buy more licenses or revoke some first."),
                )
            )
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
    company = company_lock(company)
    now = timezone.now()
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
