"""The customer portal's month so far (D4): the same computation as the
invoice, not saved, with the activity chart and the monthly budget."""

from django.contrib import messages as flash
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import company_admin_required, private_no_store

from .. import charts, selectors, services
from ..forms.budget import BudgetForm
from ..money import quantize_money
from ..rules import month_bounds, month_of
from ..templatetags.billing_tags import money
from .invoices import invoice_context


@private_no_store
@company_admin_required
def usage_current(request, budget_form=None):
    """This month so far: the invoice's lines and totals from the synced charges."""
    company = request.user.company
    zone = company.zone
    now = timezone.now()
    month = month_of(now, zone)
    start, end = month_bounds(month, zone)

    # Read from the synced month so far: no write, no lock (a GET).
    preview = selectors.month_so_far(company=company, at=now)
    messages = preview.activity
    labels = {
        "inbound": _("Inbound"),
        "free_form": _("Free-form"),
        "utility": _("Utility"),
        "authentication": _("Authentication"),
        "marketing": _("Marketing"),
    }
    svg = charts.activity_svg(
        first=start.astimezone(zone).date(),
        last=now.astimezone(zone).date(),
        messages=messages,
        charges=preview.days,
        labels=labels,
        title=_("Messages per day by kind, and the day's charges"),
    )
    context = invoice_context(preview.invoice, preview.lines)
    context.update(
        {
            "preview": True,
            "chart": svg,
            "legend": [(labels[k], colour) for k, colour in charts.KINDS],
            "as_of": preview.synced_at or now,
            "unpriced": preview.unpriced,
        }
    )
    context.update(_budget_context(company, month, preview.invoice, budget_form))
    return render(request, "billing/usage_current.html", context)


def _budget_context(company, month, invoice, form) -> dict:
    """The budget bar and its form on the usage page (two queries)."""
    status = selectors.budget_status(
        company=company, month=month, spent=invoice.total, currency=invoice.currency
    )
    if form is None:
        amount = status.amount if status else None
        form = BudgetForm(
            initial={
                "amount": None
                if amount is None
                else quantize_money(amount, company.billing_currency)
            },
            currency=company.billing_currency,
        )
    return {"budget": status, "budget_form": form}


@company_admin_required
@require_POST
def budget_update(request):
    """Set, change or clear the company's monthly budget (spend alerts)."""
    company = request.user.company
    form = BudgetForm(request.POST, currency=company.billing_currency)
    if not form.is_valid():
        return usage_current(request, budget_form=form)
    amount = form.cleaned_data["amount"]
    services.budget_set(company=company, amount=amount, actor=request.user)
    if amount is None:
        flash.success(request, _("Budget removed: no spend alerts."))
    else:
        flash.success(
            request,
            _(
                "Budget saved: %(amount)s a month. The company's admins get an "
                "email when the month so far reaches 50, 80 and 100 percent of it."
            )
            % {"amount": money(amount, company.billing_currency)},
        )
    return redirect("billing:usage")
