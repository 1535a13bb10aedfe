"""The customer portal's invoice pages: the list, an invoice and the messages
behind its lines, the CSV and PDF downloads, and the credit notes correcting an
invoice (D2) with their PDFs."""

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django_tables2 import RequestConfig

from accounts.decorators import company_admin_required, private_no_store
from accounts.periods import month_of

from .. import selectors
from ..csv_safe import FormulaSafeWriter
from ..filters import InvoiceFilter
from ..models import InvoiceLine
from ..tables.invoices import ChargeTable, InvoiceTable

PAGE = 25


@private_no_store
@company_admin_required
def invoice_list(request):
    company = request.user.company
    invoices = InvoiceFilter(
        request.GET, queryset=selectors.invoice_list_documents(company=company)
    )
    table = InvoiceTable(invoices.qs)
    if any(request.GET.get(name) for name in invoices.filters):
        # Empty because of the filter, not because there are no invoices yet.
        table.empty_text = format_html(
            '{} <a href="{}">{}</a>',
            _("No invoice matches the filter."),
            reverse("billing:invoices"),
            _("Clear the filter"),
        )
    RequestConfig(request, paginate={"per_page": PAGE}).configure(table)
    return render(
        request,
        "billing/invoice_list.html",
        {"company": company, "filter": invoices, "table": table},
    )


# The one context of the invoice page and its PDF (and of the credit note's):
# billing.selectors.documents; importable from here as before.
invoice_context = selectors.invoice_context
credit_note_context = selectors.credit_note_context


def document_pdf(template: str, context: dict, request) -> bytes:
    """A page's document as a PDF: the PDF template, the same context."""
    from weasyprint import HTML

    html = render_to_string(template, context, request=request)
    return HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()


@private_no_store
@company_admin_required
def invoice_detail(request, pk):
    invoice = selectors.invoice_get(company=request.user.company, pk=pk)
    context = selectors.invoice_document(invoice)
    from ..selectors.reconciliation import invoice_disagreement_counts  # F4

    context["disagreements"], context["disagreements_open"] = (
        invoice_disagreement_counts(invoice=invoice)
    )
    return render(request, "billing/invoice_detail.html", context)


@private_no_store
@company_admin_required
def invoice_line_messages(request, pk, line_pk):
    invoice = selectors.invoice_get(company=request.user.company, pk=pk)
    line = selectors.line_get(invoice=invoice, pk=line_pk)
    return _charge_list(
        request, invoice, selectors.line_charges(line=line), line_title(line)
    )


@private_no_store
@company_admin_required
def invoice_free_templates(request, pk):
    invoice = selectors.invoice_get(company=request.user.company, pk=pk)
    return _charge_list(
        request,
        invoice,
        selectors.free_charges(invoice=invoice),
        _("Free messages and why"),
    )


def _charge_list(request, invoice, charges, title):
    """D4: the charges behind a line, or the free ones, with why each."""
    table = ChargeTable(charges, zone=invoice.company.zone, currency=invoice.currency)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(
        request,
        "billing/charge_list.html",
        {"invoice": invoice, "table": table, "title": title},
    )


def line_title(line: InvoiceLine) -> str:
    from ..templatetags.billing_tags import line_label

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
    invoice = selectors.invoice_get(company=request.user.company, pk=pk)
    context = selectors.invoice_document(invoice)
    pdf = document_pdf("billing/invoice_pdf.html", context, request)
    name = invoice.number or f"draft-{invoice.month:%Y-%m}"
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response


def _credit_note(request, pk) -> dict:
    note = selectors.credit_note_get(company=request.user.company, pk=pk)
    return selectors.credit_note_document(note)


@private_no_store
@company_admin_required
def credit_note_detail(request, pk):
    """D2: a credit note correcting one of the company's invoices."""
    return render(request, "billing/credit_note_detail.html", _credit_note(request, pk))


@private_no_store
@company_admin_required
def credit_note_pdf(request, pk):
    context = _credit_note(request, pk)
    pdf = document_pdf("billing/credit_note_pdf.html", context, request)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = context["credit_note"].number
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response
