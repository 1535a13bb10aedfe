from django.shortcuts import render
from django.utils import timezone

from accounts.decorators import company_admin_required

from .selectors import license_holders, license_summary


@company_admin_required
def licenses(request):
    """Purchased, assigned (to whom), free, and the monthly fee."""
    company = request.user.company
    now = timezone.now()
    holders, readers = license_holders(company=company)
    return render(
        request,
        "licensing/licenses.html",
        {
            "company": company,
            "summary": license_summary(company=company, at=now),
            "holders": holders,
            "readers": readers,
        },
    )
