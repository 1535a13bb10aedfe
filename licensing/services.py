"""License writes (A1-A4). Every path (admin, demo, API) goes through these."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.locks import company_lock
from accounts.models import Company, Team, User
from accounts.queueing import enqueue_on_commit

from . import rules
from .exceptions import (
    CountBelowAssigned,
    ForeignUser,
    InactiveUser,
    InvalidLicenseChange,
    LicenseRequestRefused,
    SeatLimitExceeded,
    SenderNotLicensed,
)
from .models import (
    IdleLicenseNotice,
    LicenseAssignment,
    LicenseCountChange,
    LicensePrice,
    LicenseRequest,
)
from .selectors import (
    active_assignments,
    idle_licenses_by_company,
    license_count_history,
    user_holds_license,
)


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
    company = company_lock(company)
    # The clock is read once the lock is held: changes are recorded in the order
    # they were serialised, so history and assignments never contradict each other.
    now = timezone.now()
    effective_at = _effective_at_validate(effective_at, now)
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
    if company is not None:
        company_lock(company)
    now = timezone.now()
    effective_at = _effective_at_validate(effective_at, now)
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
    company = company_lock(company)
    now = timezone.now()
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


# --- License requests ---------------------------------------------------------


def _request_actor_check(*, request: LicenseRequest, actor: User) -> None:
    """Company admins decide their own company's requests; staff (CS) any."""
    if actor.company_id is None and actor.is_staff:
        return
    if actor.company_id != request.company_id or not actor.is_company_admin:
        raise LicenseRequestRefused(
            _("Only an admin of %(company)s can decide its license requests.")
            % {"company": request.company}
        )


@transaction.atomic
def license_request_create(*, user: User, note: str = "") -> LicenseRequest:
    """Record ``user``'s request for a license (at most one pending per user)."""
    if user.company_id is None:
        raise LicenseRequestRefused(
            _("Only users of a company can request a WhatsApp license.")
        )
    if not user.is_active:
        raise LicenseRequestRefused(_("An inactive user cannot request a license."))
    if active_assignments(company=user.company).filter(user=user).exists():
        raise LicenseRequestRefused(_("You already hold a WhatsApp license."))
    already = _(
        "You already have a pending license request; your company admin will answer it."
    )
    if LicenseRequest.objects.filter(
        user=user, status=LicenseRequest.Status.PENDING
    ).exists():
        raise LicenseRequestRefused(already)
    try:
        # The partial unique constraint settles two requests at the same time.
        with transaction.atomic():
            return LicenseRequest.objects.create(
                company_id=user.company_id,
                user=user,
                note=note.strip()[:500],
                created_at=timezone.now(),
            )
    except IntegrityError as exc:
        raise LicenseRequestRefused(already) from exc


def _pending_request_lock(request: LicenseRequest) -> LicenseRequest:
    """Lock the company then the request (accounts/locks.py order); must be pending."""
    company_lock(request.company_id)
    locked = (
        LicenseRequest.objects.select_for_update(no_key=True)
        .select_related("company", "user")
        .get(pk=request.pk)
    )
    if locked.status != LicenseRequest.Status.PENDING:
        raise LicenseRequestRefused(
            _("This request was already %(status)s.")
            % {"status": locked.get_status_display().lower()}
        )
    return locked


@transaction.atomic
def license_request_approve(*, request: LicenseRequest, actor: User) -> LicenseRequest:
    """Approve a pending request by assigning a license through ``license_assign``.

    The seat limit applies (A3): with no free license the SeatLimitExceeded
    refusal propagates, and the request stays pending with nothing changed.
    """
    _request_actor_check(request=request, actor=actor)
    request = _pending_request_lock(request)
    license_assign(company=request.company, users=[request.user], actor=actor)
    request.status = LicenseRequest.Status.APPROVED
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    return request


@transaction.atomic
def license_request_decline(*, request: LicenseRequest, actor: User) -> LicenseRequest:
    """Decline a pending request; the user stays read-only (A4)."""
    _request_actor_check(request=request, actor=actor)
    request = _pending_request_lock(request)
    request.status = LicenseRequest.Status.DECLINED
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    return request


# --- Idle license notices -----------------------------------------------------


@transaction.atomic
def idle_license_notice_record(
    *, company: Company, at: datetime
) -> IdleLicenseNotice | None:
    """Record this ISO week's idle license notice for ``company``; email on commit.

    Returns ``None`` (and sends nothing) when the company has no idle license, no
    active admin, or already has its notice for the week: the unique
    (company, week) constraint makes a re-run or a concurrent run a no-op.
    """
    from .tasks import idle_license_notice_email_task

    week = rules.iso_week_start(at=at)
    if IdleLicenseNotice.objects.filter(company=company, week=week).exists():
        return None
    found = idle_licenses_by_company(at=at, company=company)
    if not found:
        return None
    idle = found[0]
    recipients = sorted(
        company.users.filter(is_active=True, role=User.Role.COMPANY_ADMIN).values_list(
            "email", flat=True
        )
    )
    if not recipients:
        return None
    try:
        with transaction.atomic():
            notice = IdleLicenseNotice.objects.create(
                company=company,
                week=week,
                created_at=at,
                recipients=recipients,
                licenses=[
                    {
                        "email": a.user.email,
                        "name": a.user.get_full_name(),
                        "assigned_at": a.assigned_at.isoformat(),
                        "last_sent_at": a.last_sent_at.isoformat()
                        if a.last_sent_at
                        else None,
                    }
                    for a in idle.assignments
                ],
                idle_count=idle.idle_count,
                monthly_saving=idle.saving,
                currency=idle.currency,
            )
    except IntegrityError:
        return None  # another run recorded (and sends) this week's notice
    enqueue_on_commit(idle_license_notice_email_task, notice.pk)
    return notice


def _notice_context(notice: IdleLicenseNotice) -> dict:
    def when(value: str | None) -> datetime | None:
        if value is None:
            return None
        return timezone.localtime(datetime.fromisoformat(value), notice.company.zone)

    return {
        "notice": notice,
        "company": notice.company,
        "licenses": [
            {
                **item,
                "assigned_at": when(item.get("assigned_at")),
                "last_sent_at": when(item.get("last_sent_at")),
            }
            for item in notice.licenses
        ],
        "idle_days": rules.IDLE_AFTER.days,
    }


@transaction.atomic
def idle_license_notice_email(*, notice_id: int) -> IdleLicenseNotice:
    """Email a recorded notice to its recipients once (``emailed_at`` guards it)."""
    notice = (
        IdleLicenseNotice.objects.select_for_update(no_key=True)
        .select_related("company")
        .get(pk=notice_id)
    )
    if notice.emailed_at is not None:
        return notice
    context = _notice_context(notice)
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string("emails/idle_licenses_subject.txt", context)
        body = render_to_string("emails/idle_licenses.txt", context)
    send_mail(
        subject=" ".join(subject.split()),
        message=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=notice.recipients,
    )
    notice.emailed_at = timezone.now()
    notice.save(update_fields=["emailed_at"])
    return notice
