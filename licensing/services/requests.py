"""License requests (F6): a user without a license asks; the company's admins (or
Customer Success) approve it through ``license_assign``, within the seat limit
(A3), or decline it."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.locks import company_lock
from accounts.models import User

from ..exceptions import LicenseRequestRefused
from ..locks import license_request_lock
from ..models import LicenseRequest
from ..selectors import active_assignments
from .assignments import license_assign


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
    """Lock the company then the request (licensing/locks.py order); must be pending."""
    company_lock(request.company_id)
    locked = license_request_lock(request.pk)
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
