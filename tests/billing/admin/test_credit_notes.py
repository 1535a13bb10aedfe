"""Credit notes in the admin: the invoice's "Issue a credit note" action and
the view-only credit notes, through the test client."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import CreditNote, InvoiceLine
from billing.services import invoice_finalize
from tests.billing.admin.helpers import action as _action
from tests.billing.admin.helpers import draft as _draft
from tests.billing.admin.helpers import empty_invoices as _empty_invoices
from tests.billing.admin.helpers import finalized as _finalized
from tests.billing.admin.helpers import messages as _messages
from tests.billing.admin.helpers import queries as _queries
from tests.billing.admin.helpers import world as _world
from tests.factories import StaffUserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_now")]


def _credit_notes(n: int) -> None:
    for invoice in _empty_invoices(n):
        invoice = invoice_finalize(invoice=invoice)
        CreditNote.objects.create(
            invoice=invoice,
            number=f"CN-TEST-{invoice.pk}",
            reason="Goodwill",
            currency="EUR",
            subtotal=Decimal("1"),
            tax=Decimal("0"),
            total=Decimal("1"),
            created_by=StaffUserFactory(),
        )


def test_credit_note_list_query_count_does_not_grow_with_rows(
    cs_client, django_assert_max_num_queries
):
    url = reverse("admin:billing_creditnote_changelist")
    _credit_notes(3)
    few = _queries(cs_client, url)
    _credit_notes(27)
    with django_assert_max_num_queries(few):
        response = cs_client.get(url)
    assert response.context["cl"].result_count == 30


def _credit_page(client, invoice, **data):
    return _action(client, "issue_credit_note", [invoice], **data)


def test_credit_note_with_amounts_per_line(cs_client, cs_user, rates):
    # given a finalized invoice with a license line and a usage line
    invoice = _finalized(
        _world(rates, tax_rate=Decimal("0.21"), license_price=Decimal("9.99"))
    )
    usage = invoice.lines.get(kind=InvoiceLine.Kind.USAGE)
    license_line = invoice.lines.get(kind=InvoiceLine.Kind.LICENSE)
    # when the action is chosen, a page lists the non-tax lines
    page = _credit_page(cs_client, invoice)
    html = page.content.decode()
    assert page.templates[0].name == "admin/billing/invoice/credit_note.html"
    assert f'name="amount_{usage.pk}"' in html
    assert f'name="amount_{license_line.pk}"' in html
    tax = invoice.lines.get(kind=InvoiceLine.Kind.TAX)
    assert f'name="amount_{tax.pk}"' not in html
    # when amounts are entered
    done = _credit_page(
        cs_client,
        invoice,
        post="yes",
        reason="Two test sends",
        **{f"amount_{usage.pk}": "0.12", f"amount_{license_line.pk}": ""},
    )
    # then
    note = CreditNote.objects.get()
    assert (note.subtotal, note.tax, note.total) == (
        Decimal("0.12"),
        Decimal("0.03"),
        Decimal("0.15"),
    )
    assert (note.reason, note.created_by) == ("Two test sends", cs_user)
    assert _messages(done) == [
        f"{invoice.number}: credit note CN-2026-000001 issued, 0.12 EUR + tax "
        "0.03 EUR = 0.15 EUR."
    ]
    # the next page shows what is left of the line
    assert "0.13" in _credit_page(cs_client, invoice).content.decode()


def test_over_credit_shows_the_error_and_creates_nothing(cs_client, rates):
    invoice = _finalized(_world(rates))
    usage = invoice.lines.get(kind=InvoiceLine.Kind.USAGE)  # 0.25
    response = _credit_page(
        cs_client,
        invoice,
        post="yes",
        reason="Goodwill",
        **{f"amount_{usage.pk}": "0.26"},
    )
    assert response.templates[0].name == "admin/billing/invoice/credit_note.html"
    errors = response.context["form"].non_field_errors()
    assert errors == [
        # the service words it; stored amounts have 4 places
        "Marketing templates, Spain: credit must be more than 0 and at most "
        "0.25 EUR. Nothing was issued."
    ]
    assert "0.25 EUR" in response.content.decode()  # left to credit
    assert not CreditNote.objects.exists()


def test_credit_note_needs_an_amount_and_a_reason(cs_client, rates):
    invoice = _finalized(_world(rates))
    response = _credit_page(cs_client, invoice, post="yes", reason="")
    form = response.context["form"]
    assert form.errors["reason"]
    assert "Enter an amount for at least one line." not in str(form.errors)
    response = _credit_page(cs_client, invoice, post="yes", reason="x")
    assert response.context["form"].non_field_errors() == [
        "Enter an amount for at least one line."
    ]
    assert not CreditNote.objects.exists()


def test_credit_note_is_refused_for_drafts_and_for_several_invoices(cs_client, rates):
    draft = _draft(_world(rates))
    finalized = _finalized(_world(rates))
    response = _credit_page(cs_client, draft)
    assert _messages(response) == [
        f"{draft} is draft: only finalized or paid invoices are corrected by "
        "credit notes. Nothing was issued."
    ]
    response = _action(cs_client, "issue_credit_note", [draft, finalized])
    assert _messages(response) == [
        "Select exactly one invoice to credit; nothing was issued."
    ]
    assert not CreditNote.objects.exists()


def test_credit_note_detail_links_back_to_the_invoice(cs_client, rates):
    invoice = _finalized(_world(rates))
    usage = invoice.lines.get(kind=InvoiceLine.Kind.USAGE)
    _credit_page(
        cs_client, invoice, post="yes", reason="x", **{f"amount_{usage.pk}": "0.10"}
    )
    note = CreditNote.objects.get()
    response = cs_client.get(reverse("admin:billing_creditnote_change", args=[note.pk]))
    html = response.content.decode()
    assert reverse("admin:billing_invoice_change", args=[invoice.pk]) in html
    assert "Marketing templates, Spain" in html
    detail = cs_client.get(reverse("admin:billing_invoice_change", args=[invoice.pk]))
    assert note.number in detail.content.decode()
