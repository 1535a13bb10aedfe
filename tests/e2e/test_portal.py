"""A company admin's and an outsider's journey through the portal, in Chromium."""

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
PASSWORD = "pw"


def login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def test_company_admin_opens_downloads_and_switches_to_spanish(
    page, live_server, shot, invoice_world
):
    world, invoice, admin = invoice_world
    base = live_server.url
    login(page, base, admin.email)
    shot(page, "01-overview")
    page.goto(f"{base}/billing/invoices/")
    shot(page, "02-invoices")
    page.click(f"text={invoice.number}")
    total = page.locator("[data-testid=invoice-total]").inner_text()
    assert total == "€18.37"  # 15.00 licenses + 0.18 usage, + 21 % tax
    shot(page, "03-invoice")

    with page.expect_download() as download_csv:
        page.click("[data-testid=download-csv]")
    rows = list(
        csv.DictReader(io.StringIO(Path(download_csv.value.path()).read_text()))
    )
    assert len(rows) == 3 and {r["category"] for r in rows} == {"marketing"}

    with page.expect_download() as download_pdf:
        page.click("[data-testid=download-pdf]")
    assert Path(download_pdf.value.path()).read_bytes()[:4] == b"%PDF"

    with page.expect_navigation():  # the select submits the language form
        page.select_option("select[name=language]", "es")
    assert "Factura" in page.locator("h1").inner_text()
    assert page.locator("[data-testid=invoice-total]").inner_text() == "18,37\xa0€"
    shot(page, "04-invoice-es")
    page.goto(f"{base}/billing/usage/")
    shot(page, "05-usage-es")
    page.goto(f"{base}/licenses/")
    shot(page, "06-licenses-es")


def test_an_agent_of_another_company_is_refused_the_invoice(
    page, live_server, invoice_world
):
    _, invoice, _ = invoice_world
    outsider = UserFactory(email="agent@other.example")
    login(page, live_server.url, outsider.email)
    response = page.goto(f"{live_server.url}/billing/invoices/{invoice.pk}/")
    assert response.status in (403, 404)
    assert "18.37" not in page.content()
