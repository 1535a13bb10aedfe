from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import (
    company_admin_required,
    company_user_required,
    private_no_store,
)
from accounts.exceptions import DomainError

from .forms import LicenseRequestForm
from .models import LicenseRequest
from .selectors import (
    license_insight,
    license_request_get,
    license_request_list,
    license_requests_of,
    license_summary,
    user_holds_license,
)
from .services import (
    license_request_approve,
    license_request_create,
    license_request_decline,
)

# The requester sees their latest requests and what became of them.
OWN_REQUESTS_SHOWN = 5


@private_no_store
@company_admin_required
def licenses(request):
    """Purchased, assigned (to whom, and how each license is used), free, the
    monthly fee, idle licenses and what revoking them saves, pending requests."""
    company = request.user.company
    now = timezone.now()
    summary = license_summary(company=company, at=now)
    insight = license_insight(company=company, at=now, summary=summary)
    return render(
        request,
        "licensing/licenses.html",
        {
            "company": company,
            "summary": summary,
            "insight": insight,
            "holders": insight.holders,
            "readers": insight.readers,
            "pending_requests": list(
                license_request_list(
                    company=company, status=LicenseRequest.Status.PENDING
                ).order_by("created_at", "id")
            ),
        },
    )


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target,
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    ):
        return target
    return default


@require_http_methods(["GET", "POST"])
@company_user_required
def license_request(request):
    """Any company user asks for a license and sees what became of their requests."""
    user = request.user
    form = LicenseRequestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            license_request_create(user=user, note=form.cleaned_data["note"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("License requested: your company admin will approve or decline it."),
            )
        return redirect(_safe_next(request, default=request.path))
    own = list(license_requests_of(user=user)[:OWN_REQUESTS_SHOWN])
    return render(
        request,
        "licensing/license_request.html",
        {
            "company": user.company,
            "form": form,
            "holds_license": user_holds_license(user=user, at=timezone.now()),
            "pending": next((r for r in own if r.is_pending), None),
            "own_requests": own,
            "next": _safe_next(request, default=""),
        },
    )


def _decide(request, pk: int, service, *, done: str, refused: str):
    try:
        license_req = license_request_get(company=request.user.company, pk=pk)
    except LicenseRequest.DoesNotExist as exc:
        # Another company's request looks exactly like a missing one.
        raise Http404(_("No such license request.")) from exc
    try:
        service(request=license_req, actor=request.user)
    except DomainError as exc:
        messages.error(
            request,
            refused % {"user": license_req.user.get_full_name(), "error": exc.message},
        )
    else:
        messages.success(request, done % {"user": license_req.user.get_full_name()})
    return redirect("licensing:licenses")


@require_POST
@company_admin_required
def license_request_approve_view(request, pk: int):
    return _decide(
        request,
        pk,
        license_request_approve,
        done=_("%(user)s now holds a WhatsApp license."),
        refused=_("Not approved for %(user)s (the request stays pending): %(error)s"),
    )


@require_POST
@company_admin_required
def license_request_decline_view(request, pk: int):
    return _decide(
        request,
        pk,
        license_request_decline,
        done=_("The license request of %(user)s was declined."),
        refused=_("Not declined for %(user)s: %(error)s"),
    )
