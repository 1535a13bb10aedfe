"""The portal's reconciliation page (F4): where the provider's pricing of a
delivered message differs from ours, by month, with the messages behind it."""

from django.shortcuts import render
from django_tables2 import RequestConfig

from accounts.decorators import company_admin_required, private_no_store

from ..models import PricingDisagreement
from ..selectors.reconciliation import disagreement_list, disagreement_months
from ..services.runs import month_parse
from ..tables.reconciliation import DisagreementTable

PAGE = 50


@private_no_store
@company_admin_required
def reconciliation(request):
    """Months with disagreements (newest first), then one month's messages
    (``?month=YYYY-MM``, else the newest month). Read-only, own company only."""
    company = request.user.company
    months = disagreement_months(company=company)
    raw = request.GET.get("month", "").strip()
    month, invalid = None, False
    if raw:
        try:
            month = month_parse(raw)
        except ValueError:
            invalid = True
    elif months:
        month = months[0].month
    rows = (
        disagreement_list(company=company, month=month)
        if month is not None
        else PricingDisagreement.objects.none()
    )
    table = DisagreementTable(rows, zone=company.zone)
    RequestConfig(request, paginate={"per_page": PAGE}).configure(table)
    return render(
        request,
        "billing/reconciliation.html",
        {
            "company": company,
            "months": months,
            "month": month,
            "month_value": f"{month:%Y-%m}" if month else raw,
            "invalid": invalid,
            "summary": next((m for m in months if m.month == month), None),
            "table": table,
        },
    )
