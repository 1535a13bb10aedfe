"""The customer portal's billing pages: invoices, downloads, the month so far (D4)."""

from datetime import timedelta

from django.contrib import messages as flash
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from accounts.decorators import company_admin_required, private_no_store
from accounts.periods import month_bounds, month_of

from . import alerts, charts, selectors
from . import pricing as pricing_reads
from .csv_safe import FormulaSafeWriter
from .filters import InvoiceFilter
from .forms_portal import BudgetForm
from .models import InvoiceLine
from .money import quantize_money
from .services import invoice_preview
from .tables import ChargeTable, InvoiceTable, status_badge
from .templatetags.billing_tags import money

PAGE = 25


@private_no_store
@company_admin_required
def invoice_list(request):
    company = request.user.company
    invoices = InvoiceFilter(
        request.GET, queryset=selectors.invoice_list(company=company)
    )
    table = InvoiceTable(invoices.qs)
    RequestConfig(request, paginate={"per_page": PAGE}).configure(table)
    return render(
        request,
        "billing/invoice_list.html",
        {"company": company, "filter": invoices, "table": table},
    )


def invoice_context(invoice, lines) -> dict:
    """Everything the invoice page and its PDF show; both render from this."""
    by_kind = {kind: [] for kind in InvoiceLine.Kind.values}
    for line in lines:
        by_kind[line.kind].append(line)
    license_line = (
        by_kind[InvoiceLine.Kind.LICENSE][0]
        if by_kind[InvoiceLine.Kind.LICENSE]
        else None
    )
    return {
        "invoice": invoice,
        "company": invoice.company,
        "details": invoice.billing_details
        or {
            "name": invoice.company.name,
            "email": invoice.company.billing_email,
            "address": invoice.company.billing_address,
            "country": invoice.company.country,
        },
        "zone": invoice.company.zone,
        "period_last_day": (invoice.period_end - timedelta(seconds=1)).astimezone(
            invoice.company.zone
        ),
        "period_first_day": invoice.period_start.astimezone(invoice.company.zone),
        "license_line": license_line,
        "license_segments": (
            license_line.details.get("segments", []) if license_line else []
        ),
        "usage_lines": by_kind[InvoiceLine.Kind.USAGE],
        "carried_lines": by_kind[InvoiceLine.Kind.CARRIED_OVER],
        "tax_line": by_kind[InvoiceLine.Kind.TAX][0]
        if by_kind[InvoiceLine.Kind.TAX]
        else None,
        "status_badge": status_badge(invoice),
    }


@private_no_store
@company_admin_required
def invoice_detail(request, pk):
    invoice = selectors.invoice_get(company=request.user.company, pk=pk)
    context = invoice_context(invoice, selectors.invoice_lines(invoice=invoice))
    from .reconciliation import invoice_disagreement_counts  # F4

    context["disagreements"], context["disagreements_open"] = (
        invoice_disagreement_counts(invoice=invoice)
    )
    return render(request, "billing/invoice_detail.html", context)


@private_no_store
@company_admin_required
def invoice_line_messages(request, pk, line_pk):
    invoice = selectors.invoice_get(company=request.user.company, pk=pk)
    line = selectors.line_get(invoice=invoice, pk=line_pk)
    table = ChargeTable(
        selectors.line_charges(line=line),
        zone=invoice.company.zone,
        currency=invoice.currency,
    )
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(
        request,
        "billing/charge_list.html",
        {"invoice": invoice, "line": line, "table": table, "title": line_title(line)},
    )


@private_no_store
@company_admin_required
def invoice_free_templates(request, pk):
    invoice = selectors.invoice_get(company=request.user.company, pk=pk)
    table = ChargeTable(
        selectors.free_charges(invoice=invoice),
        zone=invoice.company.zone,
        currency=invoice.currency,
    )
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(
        request,
        "billing/charge_list.html",
        {"invoice": invoice, "table": table, "title": _("Free messages and why")},
    )


def line_title(line: InvoiceLine) -> str:
    from .templatetags.billing_tags import line_label

    return line_label(line)


class _Echo:
    def write(self, value):
        return value


@private_no_store
@company_admin_required
def invoice_csv(request, pk):
    """Every charged message of the invoice, streamed (an invoice may hold millions)."""
    invoice = selectors.invoice_get(company=request.user.company, pk=pk)
    zone = invoice.company.zone
    writer = FormulaSafeWriter(_Echo())
    header = [
        "delivered_at",
        "contact",
        "template",
        "category",
        "market",
        "rate",
        "currency",
        "carried_over_from",
        "reason",
        "wamid",
    ]

    def rows():
        yield writer.writerow(header)
        for charge in selectors.billable_charges(invoice=invoice).iterator(
            chunk_size=5000
        ):
            carried = ""
            if charge.delivered_at < invoice.period_start:
                carried = f"{month_of(charge.delivered_at, zone):%Y-%m}"
            yield writer.writerow(
                [
                    timezone.localtime(charge.delivered_at, zone).isoformat(),
                    charge.message.conversation.contact.masked_number,
                    charge.message.template.name if charge.message.template else "",
                    charge.category,
                    charge.market.name,
                    f"{charge.rate:.4f}",
                    invoice.currency,
                    carried,
                    selectors.reason_text(charge, zone),
                    charge.message.wamid,
                ]
            )

    name = invoice.number or f"draft-{invoice.month:%Y-%m}"
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-messages.csv"'
    return response


@private_no_store
@company_admin_required
def invoice_pdf(request, pk):
    from weasyprint import HTML

    invoice = selectors.invoice_get(company=request.user.company, pk=pk)
    context = invoice_context(invoice, selectors.invoice_lines(invoice=invoice))
    html = render_to_string("billing/invoice_pdf.html", context, request=request)
    pdf = HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()
    name = invoice.number or f"draft-{invoice.month:%Y-%m}"
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response


@private_no_store
@company_admin_required
def usage_current(request, budget_form=None):
    """This month so far: the same computation as the invoice, not saved."""
    company = request.user.company
    zone = company.zone
    now = timezone.now()
    month = month_of(now, zone)
    start, end = month_bounds(month, zone)

    def chart_data(invoice):
        return selectors.daily_charges(company=company, start=start, end=end, zone=zone)

    preview = invoice_preview(company=company, month=month, collect=chart_data)
    messages = selectors.daily_activity(
        company=company, start=start, end=end, zone=zone
    )
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
        charges=preview.extra,
        labels=labels,
        title=_("Messages per day by kind, and the day's charges"),
    )
    context = invoice_context(preview.invoice, preview.lines)
    context.update(
        {
            "preview": True,
            "chart": svg,
            "legend": [(labels[k], colour) for k, colour in charts.KINDS],
            "as_of": now.astimezone(zone),
        }
    )
    context.update(_budget_context(company, month, preview.invoice, budget_form))
    return render(request, "billing/usage_current.html", context)


def _budget_context(company, month, invoice, form) -> dict:
    """The budget bar and its form on the usage page (two queries)."""
    status = alerts.budget_status(
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
    alerts.budget_set(company=company, amount=amount, actor=request.user)
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


@private_no_store
@company_admin_required
def pricing(request):
    """F1-F3: how the company is charged: its charge policies over time, the
    free entry point rule and its volume tiers this month and later."""
    from .templatetags.billing_tags import category_label

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
        for category in ("marketing", "utility", "authentication", "service")
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
