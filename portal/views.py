from contextlib import suppress

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from accounts.services import user_language_set
from licensing.selectors import license_summary, user_holds_license


@login_required
def home(request):
    """Landing page of a company user: their company, license and where to go next."""
    user = request.user
    if user.company_id is None:
        # Customer Success staff work in the admin site.
        return redirect("admin:index")
    from django.utils import timezone

    now = timezone.now()
    context = {
        "company": user.company,
        "holds_license": user_holds_license(user=user, at=now),
        "summary": license_summary(company=user.company, at=now),
    }
    return render(request, "accounts/home.html", context)


@require_POST
def language_set(request):
    """The top bar's language switch: Django's ``set_language`` (the cookie and
    the redirect), and for a signed-in user their language from now on, on every
    device and in the emails they get (``User.language``)."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and response.status_code in (302, 204):
        # Not a language of the portal: set_language ignored it too.
        with suppress(ValueError):
            user_language_set(user=request.user, language=language)
    return response
