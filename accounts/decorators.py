"""Who may see which portal page (A4: every company user reads; admins see billing)."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control

from .selectors import company_admins

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


def admin_only_refusal(request):
    """The 403 an agent gets on a company admins' page (billing, licenses): what
    the page is, who can see it, with the navigation to go back to their pages."""
    match = request.resolver_match
    return render(
        request,
        "403.html",
        {
            "admin_area": match.namespace if match else "",
            "admins": company_admins(company=request.user.company),
        },
        status=403,
    )


def company_admin_required(view):
    """Billing and license pages: company admins only; agents get a 403 that
    says who can see the page."""

    @company_user_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            company_admin_check(request.user)
        except PermissionDenied:
            return admin_only_refusal(request)
        return view(request, *args, **kwargs)

    return wrapper
