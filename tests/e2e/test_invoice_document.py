"""The invoice as a document, in Chromium (F7, D2): period and due date right in
two zones, the PDF's text holding both tax IDs, a credit note on the invoice with
the amount due after it, and the invoice in Spanish with no English left.

Screenshots: screenshots/invoice_page.png, credit_note_page.png and
invoice_pdf_page1.png (the PDF's first page, rendered with pdftoppm)."""

import io
import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from pypdf import PdfReader

from billing.models import InvoiceLine, Issuer
from billing.services import credit_note_issue, invoice_compute, invoice_finalize
from tests.billing.views.test_invoice_document import ENGLISH, _english_left
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_portal import login
from tests.factories import CompanyAdminFactory, CompanyFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OCT = date(2026, 10, 1)
# 23:30 UTC on 3 November: the 4th in Madrid, still the 3rd in Mexico City.
FINALIZED_AT = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)


def _logo(tmp_path) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    path = tmp_path / "logo.png"
    image = Image.new("RGB", (360, 90), "#0b5c4a")
    font = ImageFont.load_default(size=40)
    ImageDraw.Draw(image).text((20, 20), "CONVERSA", fill="white", font=font)
    image.save(path)
    return path


@pytest.fixture
def issuer(settings, tmp_path):
    from django.core.files import File

    settings.MEDIA_ROOT = tmp_path / "media"
    issuer = Issuer(
        legal_name="Conversa Billing S.L.",
        address="Calle de Alcalá 21, 3º\n28014 Madrid\nEspaña",
        tax_id="ESB12345674",
        email="facturacion@conversa.example",
        payment_details="IBAN ES91 2100 0418 4502 0005 1332 · BIC CAIXESBBXXX",
        payment_terms_days=30,
    )
    with _logo(tmp_path).open("rb") as fh:
        issuer.logo.save("logo.png", File(fh), save=False)
    issuer.save()
    return issuer


def _finalized(tz, slug, tax_id, country="ES"):
    company = CompanyFactory(
        slug=slug,
        name=slug.title(),
        legal_name=f"{slug.title()} S.A.",
        tax_id=tax_id,
        country=country,
        billing_timezone=tz,
        billing_address="Avenida 1\nCiudad",
        tax_rate=Decimal("0.21"),
    )
    with time_machine.travel(datetime(2026, 11, 2, tzinfo=UTC), tick=False):
        invoice = invoice_compute(company=company, month=OCT)
    with time_machine.travel(FINALIZED_AT, tick=False):
        invoice = invoice_finalize(invoice=invoice, at=FINALIZED_AT)
    admin = CompanyAdminFactory(company=company, email=f"finance@{slug}.example")
    return invoice, admin


def _pdf(page, selector="[data-testid=download-pdf]") -> bytes:
    with page.expect_download() as download:
        page.click(selector)
    return Path(download.value.path()).read_bytes()


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(p.extract_text().split()) for p in reader.pages)


def _facts(page) -> str:
    return " ".join(page.locator("[data-testid=invoice-facts]").inner_text().split())


@pytest.mark.parametrize(
    "tz, issued, due",
    [
        ("Europe/Madrid", "Nov. 4, 2026", "Dec. 4, 2026"),
        ("America/Mexico_City", "Nov. 3, 2026", "Dec. 3, 2026"),
    ],
)
def test_period_issue_and_due_dates_and_both_tax_ids_in_two_zones(
    page, live_server, issuer, tz, issued, due
):
    slug = "acme" if tz == "Europe/Madrid" else "globex"
    tax_id = "ESA58818501" if slug == "acme" else "GODE561231GR8"
    invoice, admin = _finalized(
        tz, slug, tax_id, country="ES" if slug == "acme" else "MX"
    )
    login(page, live_server.url, admin.email)
    page.goto(f"{live_server.url}/billing/invoices/{invoice.pk}/")
    facts = _facts(page)
    assert f"Period Oct. 1, 2026 – Oct. 31, 2026 ({tz})" in facts
    assert f"Issue date {issued}" in facts
    assert f"Due date {due}" in facts
    assert page.locator("[data-testid=customer-tax-id]").inner_text() == tax_id
    assert page.locator("[data-testid=issuer-tax-id]").inner_text() == "ESB12345674"
    text = _pdf_text(_pdf(page))
    assert "ESB12345674" in text and tax_id in text
    assert f"Period Oct. 1, 2026 – Oct. 31, 2026 ({tz})" in text
    assert f"Due date {due}" in text and f"Issue date {issued}" in text


def test_a_credit_note_on_the_invoice_the_amount_due_after_it_and_screenshots(
    page, live_server, issuer, invoice_world
):
    world, invoice, admin = invoice_world
    company = world.company
    company.legal_name, company.tax_id = "Acme Iberia S.L.", "ESA58818501"
    company.save()
    # Re-freeze: the fixture finalized before the details were set.
    invoice.billing_details = {**invoice.billing_details, "name": company.legal_name}
    invoice.billing_details["tax_id"] = company.tax_id
    invoice.save(update_fields=["billing_details"])
    usage = invoice.lines.filter(kind=InvoiceLine.Kind.USAGE).get()
    with time_machine.travel(invoice.period_end + timedelta(days=6), tick=False):
        note = credit_note_issue(
            invoice=invoice,
            amounts={usage.pk: Decimal("0.06")},
            reason="Two test sends",
            actor=None,
        )
    login(page, live_server.url, admin.email)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/billing/invoices/{invoice.pk}/")
    assert page.locator("[data-testid=credits-applied]").inner_text() == "€0.07"
    assert page.locator("[data-testid=amount-due]").inner_text() == "€18.30"
    assert page.locator("[data-testid=invoice-total]").inner_text() == "€18.37"
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "invoice_page.png"), full_page=True)

    data = _pdf(page)
    text = _pdf_text(data)
    assert "ESB12345674" in text and "ESA58818501" in text
    assert note.number in text and "€18.30" in text
    if shutil.which("pdftoppm"):
        pdf_path = SCREENSHOTS / "invoice.pdf"
        pdf_path.write_bytes(data)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile",
             str(pdf_path), str(SCREENSHOTS / "invoice_pdf_page1")],
            check=True,
        )  # fmt: skip
        pdf_path.unlink()

    page.click(f"text={note.number}")
    assert page.locator("h1").inner_text() == f"Credit note {note.number}"
    assert (
        page.locator("[data-testid=corrected-invoice]").inner_text() == invoice.number
    )
    assert page.locator("[data-testid=customer-tax-id]").inner_text() == "ESA58818501"
    page.screenshot(path=str(SCREENSHOTS / "credit_note_page.png"), full_page=True)
    assert _pdf(page)[:4] == b"%PDF"


def test_the_invoice_in_spanish_has_no_english_left(page, live_server, invoice_world):
    world, invoice, admin = invoice_world
    login(page, live_server.url, admin.email)
    page.goto(f"{live_server.url}/billing/invoices/{invoice.pk}/")
    with page.expect_navigation():
        page.select_option("select[name=language]", "es")
    main = page.locator("main").inner_text()
    assert "Factura" in page.locator("h1").inner_text()
    assert "Plantillas de Marketing, España" in main
    assert _english_left(main) == [], main
    pdf = _pdf_text(_pdf(page))
    assert "Vencimiento" in pdf and "Base imponible" in pdf
    assert _english_left(pdf) == []
    assert ENGLISH  # the list the page was checked against
    assert not re.search(r"\bInvoice\b", page.title())
