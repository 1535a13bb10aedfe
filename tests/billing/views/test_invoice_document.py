"""F7: the invoice as a document, on the page, in the PDF (its text read back
with pypdf) and in the CSV: issuer and customer with their tax IDs, issue date,
period and due date in the company's zone, the customer status; the list filters
and sorts by it; the billing details page; Spanish with no English left."""

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from pypdf import PdfReader

from billing.models import Invoice
from billing.services import (
    invoice_compute,
    invoice_finalize,
    invoice_mark_paid,
    invoice_void,
)
from tests.billing.views.helpers import OCT
from tests.billing.views.helpers import login as _login
from tests.billing.views.helpers import traffic as _traffic
from tests.factories import CompanyAdminFactory, CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db

ZONES = ["UTC", "Europe/Madrid", "America/Mexico_City", "America/New_York"]
CUSTOMER_VAT = "ESA58818501"
ISSUER_VAT = "ESB12345674"  # the settings' default issuer


def _pdf_text(response) -> str:
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def _text(response) -> str:
    page = response.content.decode()
    main = page[page.index("<main") : page.index("</main>")]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


def _company(tz: str, **kw):
    return CompanyFactory(
        billing_timezone=tz,
        slug=f"doc-{tz.lower().replace('/', '-')}",
        legal_name="Acme Iberia S.L.",
        tax_id=CUSTOMER_VAT,
        **kw,
    )


def _finalized_october(tz: str, at: datetime, **kw) -> Invoice:
    company = _company(tz, **kw)
    with time_machine.travel(datetime(2026, 11, 2, tzinfo=UTC), tick=False):
        invoice = invoice_compute(company=company, month=OCT)
    with time_machine.travel(at, tick=False):
        return invoice_finalize(invoice=invoice, at=at)


# Finalized at 23:30 UTC on 3 November: the 4th in Madrid, the 3rd in the Americas.
FINALIZED_AT = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)
EXPECTED = {
    "UTC": ("Nov. 3, 2026", "Dec. 3, 2026"),
    "Europe/Madrid": ("Nov. 4, 2026", "Dec. 4, 2026"),
    "America/Mexico_City": ("Nov. 3, 2026", "Dec. 3, 2026"),
    "America/New_York": ("Nov. 3, 2026", "Dec. 3, 2026"),
}


@pytest.mark.parametrize("tz", ZONES)
def test_the_page_prints_period_issue_and_due_dates_in_the_company_zone(client, tz):
    invoice = _finalized_october(tz, FINALIZED_AT)
    _login(client, CompanyAdminFactory(company=invoice.company))
    with time_machine.travel(datetime(2026, 11, 10, tzinfo=UTC), tick=False):
        text = _text(client.get(reverse("billing:invoice", args=[invoice.pk])))
    issued, due = EXPECTED[tz]
    assert f"Period Oct. 1, 2026 – Oct. 31, 2026 ({tz})" in text
    assert f"Issue date {issued}" in text
    assert f"Due date {due}" in text
    assert "Payment terms 30 days from the issue date" in text
    assert f"Open: due {due}." in text
    assert f"VAT / tax ID: {ISSUER_VAT}" in text
    assert f"VAT / tax ID: {CUSTOMER_VAT}" in text
    assert "Billed to Acme Iberia S.L." in text


@pytest.mark.parametrize("tz", ZONES)
def test_the_pdf_text_holds_both_tax_ids_the_period_and_the_due_date(client, tz):
    invoice = _finalized_october(tz, FINALIZED_AT)
    _login(client, CompanyAdminFactory(company=invoice.company))
    text = _pdf_text(client.get(reverse("billing:invoice-pdf", args=[invoice.pk])))
    issued, due = EXPECTED[tz]
    assert ISSUER_VAT in text and CUSTOMER_VAT in text
    assert "Acme Iberia S.L." in text
    assert invoice.number in text
    assert f"Period Oct. 1, 2026 – Oct. 31, 2026 ({tz})" in text
    assert f"Issue date {issued}" in text
    assert f"Due date {due}" in text
    assert "Sept. 30" not in text and "Nov. 1, 2026" not in text


@pytest.mark.parametrize("tz", ZONES)
def test_the_csv_prints_delivery_instants_in_the_company_zone(client, tz):
    from tests.billing_world import World, rate_card

    rate_card(
        rates={("Spain", "marketing"): "0.0615"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world = World(client, start=datetime(2026, 10, 6, tzinfo=UTC), tz=tz)
    # 22:30 UTC on 31 October, the month's last hour in Madrid (UTC+1 since the
    # 25th); delivered 2 seconds after the send
    world.send_and_deliver("marketing", datetime(2026, 10, 31, 22, 30, tzinfo=UTC))
    invoice = world.invoice(OCT)
    _login(client, CompanyAdminFactory(company=world.company))
    response = client.get(reverse("billing:invoice-csv", args=[invoice.pk]))
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    )
    local = {
        "UTC": "2026-10-31T22:30:02+00:00",
        "Europe/Madrid": "2026-10-31T23:30:02+01:00",
        "America/Mexico_City": "2026-10-31T16:30:02-06:00",
        "America/New_York": "2026-10-31T18:30:02-04:00",
    }[tz]
    assert [row["delivered_at"] for row in rows] == [local]


def test_a_draft_is_an_estimate_not_yet_due(client, world):
    _traffic(world)
    draft = world.invoice(OCT)
    _login(client, world.admin)
    text = _text(client.get(reverse("billing:invoice", args=[draft.pk])))
    assert "Draft: an estimate" in text and "It is not yet due." in text
    assert "Due date Not yet due" in text
    assert "Estimated total" in text
    assert "Amount due" not in text


def test_overdue_paid_and_void_say_so_with_their_dates(client):
    invoice = _finalized_october("Europe/Madrid", datetime(2026, 11, 4, 9, tzinfo=UTC))
    _login(client, CompanyAdminFactory(company=invoice.company))
    url = reverse("billing:invoice", args=[invoice.pk])
    with time_machine.travel(datetime(2026, 12, 4, 23, 0, tzinfo=UTC), tick=False):
        response = client.get(url)
    assert response.context["customer_status"] == "overdue"
    assert "Overdue: it was due Dec. 4, 2026 and is not paid yet." in _text(response)
    invoice_mark_paid(invoice=invoice, at=datetime(2026, 12, 4, 23, 30, tzinfo=UTC))
    text = _text(client.get(url))
    assert "Paid on Dec. 5, 2026." in text  # 00:30 in Madrid
    assert 'data-testid="amount-paid"' in client.get(url).content.decode()
    other = _finalized_october(
        "America/New_York", datetime(2026, 11, 4, 9, tzinfo=UTC), country="US"
    )
    with time_machine.travel(datetime(2026, 11, 20, 3, tzinfo=UTC), tick=False):
        invoice_void(invoice=other, reason="Issued to the wrong entity")
    _login(client, CompanyAdminFactory(company=other.company))
    text = _text(client.get(reverse("billing:invoice", args=[other.pk])))
    assert "Void since Nov. 19, 2026: Issued to the wrong entity" in text


# --- The list: customer statuses, filters, sorting ------------------------------


def _invoices_of_every_status(company):
    """Five months of invoices: draft, open, overdue, paid, void (judged on 10 Dec)."""
    made = {}
    for i, status in enumerate(["void", "paid", "overdue", "open", "draft"]):
        month = date(2026, 7 + i, 1)
        made[status] = Invoice.objects.create(
            company=company,
            month=month,
            period_start=datetime(2026, 7 + i, 1, tzinfo=UTC),
            period_end=datetime(2026, 8 + i, 1, tzinfo=UTC),
            currency="EUR",
            status="draft"
            if status == "draft"
            else ("finalized" if status in ("open", "overdue") else status),
            number=None if status == "draft" else f"INV-2026-00000{i + 1}",
            total=Decimal(10 * (i + 1)),
            due_date={
                "overdue": date(2026, 12, 9),
                "open": date(2026, 12, 10),
                "paid": date(2026, 10, 1),
                "void": date(2026, 9, 1),
            }.get(status),
        )
    return made


AT = datetime(2026, 12, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize("status", ["draft", "open", "overdue", "paid", "void"])
def test_the_list_filters_by_customer_status(client, status):
    company = CompanyFactory(billing_timezone="Europe/Madrid")
    made = _invoices_of_every_status(company)
    _login(client, CompanyAdminFactory(company=company))
    with time_machine.travel(AT, tick=False):
        response = client.get(reverse("billing:invoices"), {"status": status})
    shown = [row.record.pk for row in response.context["table"].rows]
    assert shown == [made[status].pk]
    assert f'data-status="{status}"' in response.content.decode()


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("number", ["void", "paid", "overdue", "open", "draft"]),
        ("-total", ["draft", "open", "overdue", "paid", "void"]),
        ("month", ["void", "paid", "overdue", "open", "draft"]),
        ("status", ["overdue", "open", "draft", "paid", "void"]),
        ("due_date", ["void", "paid", "overdue", "open", "draft"]),
    ],
)
def test_the_list_sorts(client, sort, expected):
    company = CompanyFactory(billing_timezone="Europe/Madrid")
    made = _invoices_of_every_status(company)
    names = {invoice.pk: name for name, invoice in made.items()}
    _login(client, CompanyAdminFactory(company=company))
    with time_machine.travel(AT, tick=False):
        response = client.get(reverse("billing:invoices"), {"sort": sort})
    order = [names[row.record.pk] for row in response.context["table"].rows]
    if sort == "number":  # the draft has no number: last or first by the database
        order = [name for name in order if name != "draft"]
        expected = [name for name in expected if name != "draft"]
    if sort == "due_date":  # the draft has no due date either
        order = [name for name in order if name != "draft"]
        expected = [name for name in expected if name != "draft"]
    assert order == expected


def test_the_list_turns_overdue_at_midnight_in_the_company_zone(client):
    company = CompanyFactory(billing_timezone="America/Mexico_City")
    made = _invoices_of_every_status(company)
    _login(client, CompanyAdminFactory(company=company))
    # 05:59 UTC on 11 December is still 10 December in Mexico City (UTC-6)
    with time_machine.travel(datetime(2026, 12, 11, 5, 59, tzinfo=UTC), tick=False):
        response = client.get(reverse("billing:invoices"), {"status": "overdue"})
    assert [r.record.pk for r in response.context["table"].rows] == [made["overdue"].pk]
    with time_machine.travel(datetime(2026, 12, 11, 6, 0, tzinfo=UTC), tick=False):
        response = client.get(reverse("billing:invoices"), {"status": "overdue"})
    assert {r.record.pk for r in response.context["table"].rows} == {
        made["overdue"].pk,
        made["open"].pk,
    }


@pytest.mark.parametrize("years", [1, 6])
def test_the_list_query_count_does_not_grow_with_credit_notes_and_statuses(
    client, years, django_assert_max_num_queries
):
    from billing.models import CreditNote

    company = CompanyFactory(billing_timezone="Europe/Madrid")
    for year in range(2020, 2020 + years):
        for month in range(1, 5):
            invoice = Invoice.objects.create(
                company=company,
                month=date(year, month, 1),
                period_start=datetime(year, month, 1, tzinfo=UTC),
                period_end=datetime(year, month + 1, 1, tzinfo=UTC),
                currency="EUR",
                status=["finalized", "paid", "void", "finalized"][month - 1],
                number=f"INV-{year}-{month:06d}",
                total=Decimal("10"),
                due_date=date(year, month + 1, 15),
            )
            CreditNote.objects.create(
                invoice=invoice,
                number=f"CN-{year}-{month:06d}",
                currency="EUR",
                subtotal=Decimal("1"),
                tax=Decimal("0"),
                total=Decimal("1"),
            )
    _login(client, CompanyAdminFactory(company=company))
    with django_assert_max_num_queries(9):
        response = client.get(reverse("billing:invoices"), {"sort": "status"})
    assert response.status_code == 200
    assert len(response.context["table"].rows) == 4 * years


# --- Billing details --------------------------------------------------------------


def test_a_company_admin_edits_the_billing_details(client, world):
    _login(client, world.admin)
    url = reverse("billing:details")
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "legal_name": "Acme Iberia S.L.",
            "billing_address": "Gran Vía 1\n28013 Madrid",
            "tax_id": "b12345674",
            "billing_email": "facturas@acme.example",
        },
    )
    assert response.status_code == 302
    world.company.refresh_from_db()
    assert world.company.tax_id == "ESB12345674"
    assert world.company.billing_email == "facturas@acme.example"


def test_an_invalid_vat_number_is_refused_with_why_and_nothing_saved(client, world):
    _login(client, world.admin)
    before = world.company.billing_email
    response = client.post(
        reverse("billing:details"),
        {
            "legal_name": "X",
            "billing_address": "",
            "tax_id": "ESB12345675",
            "billing_email": "new@acme.example",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "ESB12345675 is not a valid VAT number of ES." in page
    assert 'aria-invalid="true"' in page
    assert 'value="ESB12345675"' in page  # what was typed is kept
    world.company.refresh_from_db()
    assert world.company.billing_email == before and world.company.legal_name == ""


def test_an_agent_gets_the_explanatory_403_on_billing_details(client, world):
    agent = UserFactory(company=world.company)
    _login(client, agent)
    response = client.get(reverse("billing:details"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "Billing is for your company" in page
    assert str(world.admin) in page  # named, so the agent knows whom to ask


# --- Spanish ------------------------------------------------------------------------

# Words of the English invoice page and PDF that must not be left in Spanish.
ENGLISH = [
    "Invoice", "Period", "Issue date", "Due date", "due", "Payment terms", "days",
    "Billed to", "Issued by", "VAT", "tax ID", "Status", "Open", "Overdue", "Paid",
    "Draft", "Description", "Quantity", "Unit price", "Amount", "Tax", "Tax base",
    "Tax rate", "Credits applied", "Amount due", "How to pay", "Quote", "license",
    "licenses", "month", "templates", "Spain", "Credit notes", "Number", "Issued",
    "Reason", "message", "free", "window", "Download", "Charged messages", "See which",
    "Currency", "of",
]  # fmt: skip


def _english_left(text: str) -> list[str]:
    # The data (the issuer's, the customer's, the test company's) is not UI text.
    for data in ("WhatsApp Add-on Billing S.L.", "Company", "Main Street", "billing@"):
        text = text.replace(data, " ")
    return [word for word in ENGLISH if re.search(rf"\b{re.escape(word)}\b", text)]


def test_the_invoice_page_and_pdf_in_spanish_leave_no_english(client, world):
    _traffic(world)
    invoice = world.finalize(world.invoice(OCT))
    _login(client, world.admin)
    client.cookies["django_language"] = "es"
    page = _text(client.get(reverse("billing:invoice", args=[invoice.pk])))
    pdf = _pdf_text(client.get(reverse("billing:invoice-pdf", args=[invoice.pk])))
    assert "Plantillas de Marketing, España" in page
    assert "Vencimiento" in page and "Pendiente" in pdf
    assert "1 de octubre de 2026 – 31 de octubre de 2026" in pdf
    assert "18,37 €" in pdf
    assert _english_left(page) == []
    assert _english_left(pdf) == []


def test_market_names_of_the_market_table_are_all_translated():
    from django.utils import translation

    from billing.markets import CSV, OTHER

    names = {OTHER} | {
        row["market"].strip() for row in csv.DictReader(CSV.open(encoding="utf-8"))
    }
    with translation.override("es"):
        untranslated = [
            name
            for name in sorted(names)
            if translation.gettext(name) == name
            and name
            not in {
                "Argentina",
                "Chile",
                "Colombia",
                "India",
                "Indonesia",
                "Israel",
                "Nigeria",
            }
        ]
    assert untranslated == []
