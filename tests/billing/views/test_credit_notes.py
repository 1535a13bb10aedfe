"""Credit notes in the customer portal (D2): listed on the invoice they correct
with what is left to pay, and a page and PDF of their own."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from billing.models import InvoiceLine
from billing.services import credit_note_issue
from tests.billing.views.helpers import OCT
from tests.billing.views.helpers import login as _login
from tests.billing.views.helpers import traffic as _traffic
from tests.factories import CompanyAdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def _finalized(world, n_marketing=3):
    _traffic(world, n_marketing=n_marketing)
    return world.finalize(world.invoice(OCT))


def _issue(invoice, amount, reason="Two test sends", *, at=None):
    usage = invoice.lines.filter(kind=InvoiceLine.Kind.USAGE).first()
    with time_machine.travel(at or invoice.period_end + timedelta(days=5), tick=False):
        return credit_note_issue(
            invoice=invoice,
            amounts={usage.pk: Decimal(amount)},
            reason=reason,
            actor=None,
        )


def test_d2_invoice_page_lists_credit_notes_with_credits_applied_and_amount_due(
    client, world
):
    invoice = _finalized(world)
    first = _issue(invoice, "0.06", reason="Test send")
    second = _issue(invoice, "0.06", reason="Another test send")
    response = _login(client, world.admin).get(
        reverse("billing:invoice", args=[invoice.pk])
    )
    page = response.content.decode()
    for note in (first, second):
        assert f'href="{reverse("billing:credit-note", args=[note.pk])}"' in page
        assert note.number in page
    assert "Test send" in page and "Another test send" in page
    credits = first.total + second.total
    assert response.context["credits_applied"] == credits == Decimal("0.14")
    assert response.context["amount_due"] == invoice.total - credits
    assert 'data-testid="credits-applied">€0.14' in page
    assert f'data-testid="amount-due">€{invoice.total - credits}' in page


def test_d2_amount_due_never_goes_below_zero():
    from billing.rules import amount_due

    assert amount_due(total=Decimal("10"), credits=[Decimal("4")]) == Decimal("6")
    assert amount_due(total=Decimal("10"), credits=[Decimal("6"), Decimal("6")]) == 0
    assert amount_due(total=Decimal("10"), credits=[]) == Decimal("10")


def test_d2_credit_note_issue_date_is_the_company_s_day(client, world):
    world.company.billing_timezone = "America/Mexico_City"
    world.company.save()
    invoice = _finalized(world)
    # 03:00 UTC on 8 November is still 7 November in Mexico City.
    note = _issue(invoice, "0.06", at=datetime(2026, 11, 8, 3, 0, tzinfo=UTC))
    _login(client, world.admin)
    invoice_page = client.get(reverse("billing:invoice", args=[invoice.pk]))
    note_page = client.get(reverse("billing:credit-note", args=[note.pk]))
    for page in (invoice_page.content.decode(), note_page.content.decode()):
        assert "Nov. 7, 2026" in page
        assert "Nov. 8, 2026" not in page


def test_d2_a_draft_shows_no_credits(client, world):
    _traffic(world)
    draft = world.invoice(OCT)
    response = _login(client, world.admin).get(
        reverse("billing:invoice", args=[draft.pk])
    )
    assert response.context["credit_notes"] == []
    assert "Amount due" not in response.content.decode()


def test_d2_invoice_pdf_lists_credit_notes(client, world):
    invoice = _finalized(world)
    _issue(invoice, "0.06")
    response = _login(client, world.admin).get(
        reverse("billing:invoice-pdf", args=[invoice.pk])
    )
    assert response.content.startswith(b"%PDF")
    assert response.context["amount_due"] == invoice.total - Decimal("0.07")
    assert len(response.context["credit_notes"]) == 1


@pytest.mark.parametrize("notes", [1, 4])
def test_d2_invoice_page_query_count_is_constant_with_credit_notes(
    client, world, notes, django_assert_max_num_queries
):
    invoice = _finalized(world, n_marketing=10)
    for _ in range(notes):
        _issue(invoice, "0.06")
    _login(client, world.admin)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("billing:invoice", args=[invoice.pk]))
    assert len(response.context["credit_notes"]) == notes


def test_d2_credit_note_page_shows_what_it_corrects(client, world):
    invoice = _finalized(world)
    note = _issue(invoice, "0.06", reason="Two test sends")
    response = _login(client, world.admin).get(
        reverse("billing:credit-note", args=[note.pk])
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert note.number.startswith("CN-") and note.number in page
    assert invoice.number in page
    assert f'href="{reverse("billing:invoice", args=[invoice.pk])}"' in page
    assert "Two test sends" in page
    assert note.lines.get().description in page
    assert (note.subtotal, note.tax, note.total) == (
        Decimal("0.06"),
        Decimal("0.01"),
        Decimal("0.07"),
    )
    assert 'data-testid="credit-note-total">€0.07' in page


def test_d2_credit_note_pdf_is_a_document_named_after_it(client, world):
    invoice = _finalized(world)
    note = _issue(invoice, "0.06")
    response = _login(client, world.admin).get(
        reverse("billing:credit-note-pdf", args=[note.pk])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert f'filename="{note.number}.pdf"' in response["Content-Disposition"]
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}


@pytest.mark.parametrize("name", ["billing:credit-note", "billing:credit-note-pdf"])
def test_d2_another_company_s_credit_note_is_404(client, world, name):
    note = _issue(_finalized(world), "0.06")
    outsider = CompanyAdminFactory()
    response = _login(client, outsider).get(reverse(name, args=[note.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("name", ["billing:credit-note", "billing:credit-note-pdf"])
def test_d2_agents_get_403_on_credit_notes(client, world, name):
    note = _issue(_finalized(world), "0.06")
    agent = UserFactory(company=world.company)
    assert _login(client, agent).get(reverse(name, args=[note.pk])).status_code == 403


def test_d2_credit_note_pages_are_not_cached(client, world):
    invoice = _finalized(world)
    note = _issue(invoice, "0.06")
    _login(client, world.admin)
    for url in (
        reverse("billing:credit-note", args=[note.pk]),
        reverse("billing:credit-note-pdf", args=[note.pk]),
        reverse("billing:invoice", args=[invoice.pk]),
    ):
        cache = client.get(url)["Cache-Control"]
        assert set(cache.split(", ")) == {"private", "no-store"}


def test_d2_credit_notes_read_in_spanish(client, world):
    invoice = _finalized(world)
    note = _issue(invoice, "0.06")
    _login(client, world.admin)
    spanish = {"accept-language": "es"}
    invoice_page = client.get(
        reverse("billing:invoice", args=[invoice.pk]), headers=spanish
    ).content.decode()
    assert "Notas de crédito" in invoice_page and "Importe pendiente" in invoice_page
    note_page = client.get(
        reverse("billing:credit-note", args=[note.pk]), headers=spanish
    ).content.decode()
    assert f"Nota de crédito {note.number}" in note_page
    assert "Corrige la factura" in note_page and "Total abonado (EUR)" in note_page


def test_d2_a_voided_invoice_lists_its_credit_notes_but_no_amount_due(client, world):
    from billing.services import invoice_void

    invoice = _finalized(world)
    note = _issue(invoice, "0.06")
    invoice = invoice_void(invoice=invoice, reason="Wrong company")
    response = _login(client, world.admin).get(
        reverse("billing:invoice", args=[invoice.pk])
    )
    page = response.content.decode()
    assert note.number in page
    assert response.context["amount_due"] is None
    assert 'data-testid="amount-due"' not in page
