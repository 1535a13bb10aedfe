"""License requests of users without a license, as the requester and the admins see them."""

from django.db.models import QuerySet

from accounts.models import Company, User

from ..models import LicenseRequest


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
