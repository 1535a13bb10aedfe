"""The customer portal's pricing page (F1-F3)."""

from django.shortcuts import render
from django.utils import timezone

from accounts.decorators import company_admin_required, private_no_store

from .. import rules
from ..rules import month_of
from ..selectors import pricing as pricing_reads


@private_no_store
@company_admin_required
def pricing(request):
    """F1-F3: how the company is charged: its charge policies over time, the
    free entry point rule and its volume tiers this month and later."""
    from ..templatetags.billing_tags import category_label

    company = request.user.company
    now = timezone.now()
    month = month_of(now, company.zone)
    periods = pricing_reads.policy_periods(company=company)
    current = next(
        (p for p in reversed(periods) if p.since is None or p.since <= now), periods[0]
    )
    matrix = [
        (
            category_label(category),
            current.terms.charges(category, window_open=True),
            None
            if category == "service"
            else current.terms.charges(category, window_open=False),
        )
        for category in rules.CATEGORIES
    ]
    return render(
        request,
        "billing/pricing.html",
        {
            "company": company,
            "periods": periods,
            "current": current,
            "matrix": matrix,
            "service_rate": category_label(current.terms.service_rate_category),
            "month": month,
            "tiers": pricing_reads.tiers_in_force(company=company, month=month),
            "upcoming": pricing_reads.tiers_upcoming(company=company, after=month),
        },
    )
