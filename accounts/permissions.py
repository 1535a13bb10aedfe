"""Permissions of the JSON API, asking the same checks as the portal's decorators."""

from rest_framework.permissions import BasePermission

from .decorators import company_admin_check


class IsCompanyAdmin(BasePermission):
    """Billing: company admins only, as ``company_admin_required``. Anonymous
    requests get 401; agents and Customer Success staff (no company) get 403."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF answers 401 with the authenticator's header
        company_admin_check(request.user)  # PermissionDenied: DRF answers 403
        return True
