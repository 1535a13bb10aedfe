"""The customer portal's invoice pages and downloads through the test client."""

import csv
import io
from datetime import date

import pytest
from django.urls import reverse

from billing.models import Charge, Invoice
from tests.billing.views.helpers import OCT, T
from tests.billing.views.helpers import login as _login
from tests.billing.views.helpers import traffic as _traffic
from tests.factories import CompanyAdminFactory

pytestmark = pytest.mark.django_db


def test_invoice_list_shows_invoices_with_status_and_totals(client, world):
    _traffic(world)
    invoice = world.finalize(world.invoice(OCT))
    response = _login(client, world.admin).get(reverse("billing:invoices"))
    assert response.status_code == 200
    page = response.content.decode()
    assert invoice.number in page
    assert 'data-status="open"' in page and ">Open</span>" in page  # F7
    assert "€18.37" in page  # (15 + 0.18) + 21 % tax = 15.18 + 3.19


def test_invoice_list_filters_by_month_and_status(client, world):
    world.invoice(OCT)
    world.invoice(date(2026, 9, 1))
    _login(client, world.admin)
    page = client.get(
        reverse("billing:invoices"), {"month": "2026-09"}
    ).content.decode()
    assert "September 2026" in page and "October 2026" not in page
    page = client.get(reverse("billing:invoices"), {"status": "paid"}).content.decode()
    assert "No invoice matches the filter" in page


@pytest.mark.parametrize("count", [3, 30])
def test_invoice_list_query_count_is_constant(
    client, world, count, django_assert_max_num_queries
):
    for i in range(count):
        month = date(2024 + i // 12, i % 12 + 1, 1)
        Invoice.objects.create(
            company=world.company,
            month=month,
            period_start=T,
            period_end=T,
            currency="EUR",
        )
    _login(client, world.admin)
    with django_assert_max_num_queries(9):
        assert client.get(reverse("billing:invoices")).status_code == 200


def test_invoice_detail_explains_every_line(client, world):
    _traffic(world)
    invoice = world.invoice(OCT)
    response = _login(client, world.admin).get(
        reverse("billing:invoice", args=[invoice.pk])
    )
    page = response.content.decode()
    assert "1 license for 31 days" in page
    assert "Marketing templates, Spain" in page
    assert (
        "1 message was delivered free: inside an open customer service window" in page
    )
    assert response.context["invoice"].total == invoice.total
    assert 'data-testid="invoice-total">€18.37' in page


@pytest.mark.parametrize("messages", [2, 40])
def test_invoice_detail_query_count_is_constant(
    client, world, messages, django_assert_max_num_queries
):
    _traffic(world, n_marketing=messages)
    invoice = world.invoice(OCT)
    _login(client, world.admin)
    with django_assert_max_num_queries(7):
        assert (
            client.get(reverse("billing:invoice", args=[invoice.pk])).status_code == 200
        )


def test_line_messages_list_every_charged_message_with_masked_numbers(
    client, world, django_assert_max_num_queries
):
    _traffic(world, n_marketing=5)
    invoice = world.invoice(OCT)
    line = invoice.lines.get(kind="usage", category="marketing")
    _login(client, world.admin)
    with django_assert_max_num_queries(9):
        response = client.get(
            reverse("billing:invoice-line", args=[invoice.pk, line.pk])
        )
    page = response.content.decode()
    assert page.count("marketing templates are charged on delivery") == 5
    assert world.wa_id not in page
    assert "+346" in page and "••" in page


def test_free_templates_say_why(client, world):
    _traffic(world)
    invoice = world.invoice(OCT)
    page = (
        _login(client, world.admin)
        .get(reverse("billing:invoice-free", args=[invoice.pk]))
        .content.decode()
    )
    assert (
        "Free: utility template delivered 2026-10-06 11:00 while the window opened by the "
        "contact&#x27;s message at 2026-10-06 10:00 was open."
    ) in page


def test_csv_lists_every_charged_message(client, world):
    _traffic(world)
    invoice = world.invoice(OCT)
    response = _login(client, world.admin).get(
        reverse("billing:invoice-csv", args=[invoice.pk])
    )
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    )
    assert (
        len(rows) == Charge.objects.filter(invoice=invoice, billable=True).count() == 3
    )
    assert {r["category"] for r in rows} == {"marketing"}
    assert rows[0]["rate"] == "0.0615" and rows[0]["market"] == "Spain"
    assert world.wa_id not in rows[0]["contact"]


def test_pdf_is_an_a4_document_with_the_invoice(client, world):
    _traffic(world)
    invoice = world.finalize(world.invoice(OCT))
    response = _login(client, world.admin).get(
        reverse("billing:invoice-pdf", args=[invoice.pk])
    )
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert f'filename="{invoice.number}.pdf"' in response["Content-Disposition"]


@pytest.mark.parametrize(
    "name",
    [
        "billing:invoice",
        "billing:invoice-csv",
        "billing:invoice-pdf",
        "billing:invoice-free",
    ],
)
def test_another_companys_invoice_is_404(client, world, name):
    invoice = world.invoice(OCT)
    outsider = CompanyAdminFactory()
    assert (
        _login(client, outsider).get(reverse(name, args=[invoice.pk])).status_code
        == 404
    )


def test_anonymous_users_are_sent_to_login(client, world):
    response = client.get(reverse("billing:invoices"))
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_an_invoice_list_emptied_by_the_filter_says_so_and_offers_to_clear_it(
    client, world
):
    world.invoice(OCT)
    _login(client, world.admin)
    page = client.get(
        reverse("billing:invoices"), {"month": "2026-09", "status": "paid"}
    ).content.decode()
    assert "No invoice matches the filter" in page
    assert "No invoices yet" not in page
    assert f'href="{reverse("billing:invoices")}"' in page


def test_an_empty_unfiltered_invoice_list_says_no_invoices_yet(client, world):
    _login(client, world.admin)
    page = client.get(reverse("billing:invoices")).content.decode()
    assert "No invoices yet" in page
    assert "No invoice matches the filter" not in page


def _amount_due_cell(page: str, number: str) -> str:
    """The amount-due cell of the row of invoice ``number``."""
    from html.parser import HTMLParser

    class Rows(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.cell, self.inside = [], None, False

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag == "td":
                self.inside, self.cell = True, ""

        def handle_endtag(self, tag):
            if tag == "td":
                self.rows[-1].append(self.cell.strip())
                self.inside = False

        def handle_data(self, data):
            if self.inside:
                self.cell += data

    parser = Rows()
    parser.feed(page)
    (row,) = [r for r in parser.rows if r and r[0] == number]
    return row[-1]


def test_invoice_list_shows_what_is_left_to_pay_after_credit_notes(client, world):
    from billing.services import credit_note_issue, invoice_mark_paid

    _traffic(world)
    invoice = world.finalize(world.invoice(OCT))
    _login(client, world.admin)
    page = client.get(reverse("billing:invoices")).content.decode()
    assert "Amount due" in page
    assert _amount_due_cell(page, invoice.number) == "€18.37"
    line = invoice.lines.filter(kind="license").get()
    credit_note_issue(
        invoice=invoice, amounts={line.pk: line.amount}, reason="goodwill", actor=None
    )
    invoice.refresh_from_db()
    page = client.get(reverse("billing:invoices")).content.decode()
    assert _amount_due_cell(page, invoice.number) == "€0.22"  # (18.37 - 15 × 1.21)
    invoice_mark_paid(invoice=invoice)
    page = client.get(reverse("billing:invoices")).content.decode()
    assert _amount_due_cell(page, invoice.number) == "€0.00"


def test_a_draft_in_the_invoice_list_owes_nothing_yet(client, world):
    draft = world.invoice(OCT)
    page = _login(client, world.admin).get(reverse("billing:invoices")).content.decode()
    assert _amount_due_cell(page, "Draft") == "—"
    assert draft.total > 0
