"""An integrator reads the invoice the admin sees, with a token, over HTTP from
the browser's request context (the live server; no session cookie)."""

import pytest
from rest_framework.authtoken.models import Token

from billing.selectors import invoice_customer_status
from tests.e2e.portal_pages import login, portal_world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_invoice_api_answers_a_token_what_the_page_shows(
    browser, page, live_server, client, settings
):
    pw = portal_world(client, settings)
    invoice = pw.invoice
    base = live_server.url
    token = Token.objects.create(user=pw.admin)

    api = browser.new_context(
        base_url=base, extra_http_headers={"Authorization": f"Token {token.key}"}
    ).request
    listed = api.get("/api/invoices/?month=2026-10")
    assert listed.status == 200, listed.text()
    body = listed.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert [row["number"] for row in rows] == [invoice.number]

    detail = api.get(f"/api/invoices/{invoice.pk}/").json()
    assert detail["customer_status"] == invoice_customer_status(invoice)
    assert detail["currency"] == invoice.currency
    assert detail["lines"], detail

    # the same amount due the page prints for the admin
    login(page, base, pw.admin.email)
    page.goto(f"{base}/billing/invoices/{invoice.pk}/")
    shown = page.locator("[data-testid=amount-due]").first.inner_text()
    assert detail["amount_due"].replace(".", ",") in shown.replace(".", ",")

    # no token, a reader's token, another company: nothing to read
    assert browser.new_context(base_url=base).request.get(
        f"/api/invoices/{invoice.pk}/"
    ).status in (401, 403)
    reader = Token.objects.create(user=pw.reader)
    as_reader = browser.new_context(
        base_url=base, extra_http_headers={"Authorization": f"Token {reader.key}"}
    ).request
    assert as_reader.get(f"/api/invoices/{invoice.pk}/").status == 403
