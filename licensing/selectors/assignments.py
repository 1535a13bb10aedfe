"""Who holds a license (A3, A4): the active assignments and their holders."""

from datetime import datetime

from django.db.models import Q, QuerySet

from accounts.models import Company, User

from ..models import LicenseAssignment


def active_assignments(*, company: Company) -> QuerySet[LicenseAssignment]:
    return LicenseAssignment.objects.filter(company=company, revoked_at__isnull=True)


def user_holds_license(*, user: User, at: datetime) -> bool:
    """A4: whether ``user`` holds a license at instant ``at``."""
    return (
        LicenseAssignment.objects.filter(user=user, assigned_at__lte=at)
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=at))
        .exists()
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
