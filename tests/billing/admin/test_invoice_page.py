"""Customer Success's invoice page reads like the document (period and dates in the
company's zone, money to the minor unit, the billing details as an address, the
PDF and the credit notes linked) and carries its actions as buttons, through the
real admin URLs."""

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from billing.models import CreditNote, Invoice, InvoiceLine
from billing.services import credit_note_issue
from tests.billing.admin.helpers import draft as _draft
from tests.billing.admin.helpers import finalized as _finalized
from tests.billing.admin.helpers import messages as _messages
from tests.billing.admin.helpers import world as _world
from tests.factories import StaffUserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_now")]


def _page(client, invoice) -> str:
    response = client.get(reverse("admin:billing_invoice_change", args=[invoice.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _do(client, invoice, name, **data):
    url = reverse("admin:billing_invoice_object_action", args=[invoice.pk, name])
    return client.post(url, data, follow=True)


def _madrid(rates):
    world = _world(rates, tz="Europe/Madrid", tax_rate=Decimal("0.21"))
    company = world.company
    company.name = "Acme Iberia"
    company.billing_address = "Calle Mayor 1\n28013 Madrid"
    company.save()
    return world


@pytest.mark.parametrize(
    ("tz", "last"),
    [
        ("UTC", "Oct. 31, 2026"),
        ("Europe/Madrid", "Oct. 31, 2026"),
        ("America/Mexico_City", "Oct. 31, 2026"),
        ("America/New_York", "Oct. 31, 2026"),
    ],
)
def test_the_period_is_the_companys_month_in_its_zone(cs_client, rates, tz, last):
    invoice = _finalized(_world(rates, tz=tz))
    html = _page(cs_client, invoice)
    assert f"Oct. 1, 2026 – {last} ({tz})" in html
    assert "Sept. 30, 2026" not in html and "Nov. 1, 2026" not in html
    assert "October 2026" in html  # the month, not "Oct. 1, 2026"


def test_the_page_reads_like_the_document(cs_client, rates):
    invoice = _finalized(_madrid(rates))
    html = _page(cs_client, invoice)
    # the amounts to the cent, never the stored six places
    assert "0.25 EUR" in html and "0.05 EUR" in html and "0.30 EUR" in html
    assert "0.2500" not in html and "0.061500" not in html
    assert "0.0615 EUR" in html  # the unit price keeps its four places
    assert "21 %" in html
    assert "Amount due 0.30 EUR (no credit note)" in html
    # the billing details as an address, not JSON
    assert "<address>Acme Iberia<br>Calle Mayor 1<br>28013 Madrid<br>ES" in html
    assert "&quot;address&quot;" not in html and '"address"' not in html
    # the finalization instant in Madrid's time
    assert "(Europe/Madrid)" in html
    # the PDF is linked
    assert reverse("admin:billing_invoice_pdf", args=[invoice.pk]) in html


def test_the_pdf_is_the_customers(cs_client, rates):
    invoice = _finalized(_madrid(rates))
    response = cs_client.get(reverse("admin:billing_invoice_pdf", args=[invoice.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert invoice.number in text and "Acme Iberia" in text


def test_credit_notes_are_linked_with_their_pdf_and_the_amount_due(cs_client, rates):
    invoice = _finalized(_madrid(rates))
    usage = invoice.lines.get(kind=InvoiceLine.Kind.USAGE)
    note = credit_note_issue(
        invoice=invoice, amounts={usage.pk: Decimal("0.10")}, reason="Test", actor=None
    )
    html = _page(cs_client, invoice)
    assert reverse("admin:billing_creditnote_change", args=[note.pk]) in html
    pdf_url = reverse("admin:billing_creditnote_pdf", args=[note.pk])
    assert pdf_url in html
    # 0.10 + 21 % = 0.12 credited; 0.30 - 0.12 = 0.18 due
    assert "Credits applied 0.12 EUR; amount due 0.18 EUR" in html
    response = cs_client.get(pdf_url)
    assert response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert note.number in text
    # the credit note's own page shows money to the cent
    note_page = cs_client.get(
        reverse("admin:billing_creditnote_change", args=[note.pk])
    ).content.decode()
    assert "0.12 EUR" in note_page and "0.1000" not in note_page


def test_a_draft_has_recompute_and_finalize_buttons(cs_client, rates):
    invoice = _draft(_world(rates))
    html = _page(cs_client, invoice)
    for name in ("recompute", "finalize"):
        url = reverse("admin:billing_invoice_object_action", args=[invoice.pk, name])
        assert f'action="{url}"' in html
    assert "invoice-action-mark_paid" not in html
    assert "invoice-action-void" not in html
    assert "A draft: not due yet." in html


def test_recompute_from_the_page(cs_client, rates):
    invoice = _draft(_world(rates))
    response = _do(cs_client, invoice, "recompute")
    assert response.redirect_chain[-1][0] == reverse(
        "admin:billing_invoice_change", args=[invoice.pk]
    )
    assert _messages(response) == [f"{invoice}: recomputed, total 0.25 EUR."]


def test_finalize_from_the_page_asks_first(cs_client, rates):
    invoice = _draft(_world(rates))
    # the button shows a confirmation page; nothing happens yet
    page = _do(cs_client, invoice, "finalize")
    assert page.templates[0].name == "admin/billing/invoice/confirm.html"
    assert "This cannot be undone." in page.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.DRAFT
    # confirmed, it goes through the service
    done = _do(cs_client, invoice, "finalize", post="yes")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.FINALIZED
    assert _messages(done) == [
        f"Draft {invoice.company} 2026-10: finalized as {invoice.number}, "
        "total 0.25 EUR."
    ]
    # and the page now offers what applies to a finalized invoice
    html = _page(cs_client, invoice)
    assert "invoice-action-mark_paid" in html and "invoice-action-finalize" not in html


def test_mark_paid_then_only_a_credit_note_is_left(cs_client, rates):
    invoice = _finalized(_world(rates))
    _do(cs_client, invoice, "mark_paid", post="yes")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    html = _page(cs_client, invoice)
    assert "Paid on Nov. 10, 2026" in html
    assert "invoice-action-issue_credit_note" in html
    assert "invoice-action-void" not in html


def test_void_from_the_page_asks_why(cs_client, rates):
    invoice = _finalized(_world(rates))
    page = _do(cs_client, invoice, "void")
    assert page.templates[0].name == "admin/billing/invoice/void.html"
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.FINALIZED
    done = _do(cs_client, invoice, "void", post="yes", reason="Wrong entity")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.void_reason) == ("void", "Wrong entity")
    assert done.redirect_chain[-1][0].endswith(f"/{invoice.pk}/change/")
    html = _page(cs_client, invoice)
    assert "Void: Wrong entity" in html and "invoice-actions" not in html


def test_credit_note_from_the_page_keeps_what_was_typed_when_refused(cs_client, rates):
    invoice = _finalized(_world(rates))
    usage = invoice.lines.get(kind=InvoiceLine.Kind.USAGE)  # 0.25 EUR
    page = _do(cs_client, invoice, "issue_credit_note")
    assert page.templates[0].name == "admin/billing/invoice/credit_note.html"
    # refused by the service: more than is left on the line
    refused = _do(
        cs_client,
        invoice,
        "issue_credit_note",
        post="yes",
        reason="Two test sends",
        **{f"amount_{usage.pk}": "0.26"},
    )
    html = refused.content.decode()
    assert "at most 0.25 EUR. Nothing was issued." in html
    assert 'value="0.26"' in html and "Two test sends</textarea>" in html
    assert not CreditNote.objects.exists()
    # refused by the form (too many places): still kept
    refused = _do(
        cs_client,
        invoice,
        "issue_credit_note",
        post="yes",
        reason="Two test sends",
        **{f"amount_{usage.pk}": "0.123"},
    )
    assert 'value="0.123"' in refused.content.decode()
    # accepted
    _do(
        cs_client,
        invoice,
        "issue_credit_note",
        post="yes",
        reason="Two test sends",
        **{f"amount_{usage.pk}": "0.10"},
    )
    assert CreditNote.objects.get().invoice == invoice


def test_the_buttons_are_post_only_and_need_the_permission(client, cs_client, rates):
    invoice = _draft(_world(rates))
    url = reverse("admin:billing_invoice_object_action", args=[invoice.pk, "finalize"])
    assert cs_client.get(url).status_code == 405
    unknown = reverse("admin:billing_invoice_object_action", args=[invoice.pk, "x"])
    assert cs_client.post(unknown).status_code == 404
    # staff without Customer Success's permissions
    client.force_login(StaffUserFactory())
    assert client.post(url, {"post": "yes"}).status_code == 403
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.DRAFT


def test_a_refusal_names_the_company_once(cs_client, rates):
    from billing.models import Rate

    invoice = _draft(_world(rates))
    Rate.objects.filter(category="marketing").delete()
    response = _do(cs_client, invoice, "recompute")
    [message] = _messages(response)
    company = invoice.company.name
    assert message.startswith(
        f"Draft of 2026-10: {company} has charged messages without a rate in EUR"
    )
    assert message.count(company) == 1
