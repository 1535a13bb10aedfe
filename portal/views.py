from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from licensing.selectors import license_summary, user_holds_license
from messaging.selectors import template_costlier_changes

# F9: how far back the home page lists templates moved to a dearer category.
TEMPLATE_NOTICE_DAYS = 90


@login_required
def home(request):
    """Landing page of a company user: their company, license and where to go next."""
    user = request.user
    if user.company_id is None:
        # Customer Success staff work in the admin site.
        return redirect("admin:index")
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    context = {
        "company": user.company,
        "holds_license": user_holds_license(user=user, at=now),
        "summary": license_summary(company=user.company, at=now),
        "template_notices": (
            list(
                template_costlier_changes(
                    company_id=user.company_id,
                    since=now - timedelta(days=TEMPLATE_NOTICE_DAYS),
                )[:10]
            )
            if user.is_company_admin
            else []
        ),
    }
    return render(request, "accounts/home.html", context)
