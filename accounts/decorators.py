"""Who may see which portal page (A4: every company user reads; admins see billing)."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.views.decorators.cache import cache_control

# Pages and downloads of a company's invoices, usage, prices and fees: neither a
# shared cache nor the browser's keeps a copy (Cache-Control: private, no-store).
private_no_store = cache_control(private=True, no_store=True)


def company_user_required(view):
    """A logged-in user of a company; Customer Success staff go to the admin site."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.company_id is None:
            return redirect("admin:index")
        return view(request, *args, **kwargs)

    return wrapper


def company_admin_check(user) -> None:
    """A4: billing is for the company's admins; anyone else gets PermissionDenied
    (403). The portal's pages (``company_admin_required``) and the JSON API
    (``accounts.permissions.IsCompanyAdmin``) both ask here."""
    if not user.is_company_admin:
        raise PermissionDenied("Billing is visible to company admins only.")


def company_admin_required(view):
    """Billing pages: company admins only; agents get 403."""

    @company_user_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        company_admin_check(request.user)
        return view(request, *args, **kwargs)

    return wrapper
