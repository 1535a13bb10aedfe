"""Customer Success's admin lists at 1366 px in Chromium: no list hides its last
columns (the results table fits the window, the last column header is inside
it), on the demo's data (long company names, emails, disagreements)."""

from io import StringIO

import pytest
from django.core.management import call_command

from tests import whatsapp

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LISTS = [
    "accounts/company",
    "accounts/user",
    "accounts/team",
    "billing/pricingdisagreement",
    "billing/invoice",
    "billing/charge",
    "billing/creditnote",
    "billing/documentemail",
    "billing/spendalert",
    "licensing/licenseassignment",
    "licensing/licensecountchange",
    "licensing/licenseprice",
    "licensing/licenserequest",
    "messaging/message",
    "messaging/webhookdelivery",
    "messaging/conversation",
]


# The lists of the issue; the demo fills them (the others may be empty).
MUST_HAVE_ROWS = {
    "accounts/company",
    "accounts/user",
    "billing/pricingdisagreement",
    "billing/invoice",
    "billing/charge",
    "billing/creditnote",
    "billing/documentemail",
    "licensing/licenseassignment",
}


def _demo(settings) -> None:
    """The demo on a fresh database; a transactional test flushed what the
    migrations seed (markets, charge policies), so they are put back first."""
    from billing.markets import markets_seed
    from billing.models import ChargePolicy, ChargePolicyAssignment
    from billing.policies import policies_seed

    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    markets_seed()
    policies_seed(policy_model=ChargePolicy, assignment_model=ChargePolicyAssignment)
    with whatsapp.on_commit():
        call_command("demo_seed", stdout=StringIO())


def _login(page, base):
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "cs@example.com")
    page.fill("#id_password", "demo-pass-2026")
    page.click("input[type=submit]")
    page.wait_for_url(lambda url: "/admin/login/" not in url)


def test_no_admin_list_hides_its_last_columns_at_1366_px(
    page, live_server, shot, settings
):
    _demo(settings)
    page.set_viewport_size({"width": 1366, "height": 900})
    _login(page, live_server.url)
    overflowing = {}
    for name in LISTS:
        page.goto(f"{live_server.url}/admin/{name}/")
        measures = page.evaluate(
            """() => {
              const table = document.querySelector('#result_list');
              // The table scrolls inside this box: what is past its edge is hidden.
              const box = document.querySelector('#changelist .results');
              const headers = table ? table.querySelectorAll('thead th') : [];
              const last = headers.length ? headers[headers.length - 1] : null;
              return {
                rows: table ? table.querySelectorAll('tbody tr').length : 0,
                viewport: window.innerWidth,
                page: document.documentElement.scrollWidth,
                box: box ? box.getBoundingClientRect().right : window.innerWidth,
                table: table ? table.getBoundingClientRect().right : 0,
                last: last ? last.getBoundingClientRect().right : 0,
              };
            }"""
        )
        if name in MUST_HAVE_ROWS:
            assert measures["rows"], f"{name}: the demo leaves this list empty"
        edge = min(measures["viewport"], measures["box"]) + 0.5
        fits = (
            measures["page"] <= measures["viewport"]
            and measures["table"] <= edge
            and measures["last"] <= edge
        )
        if not fits:
            overflowing[name] = measures
        if name in ("accounts/company", "accounts/user", "billing/pricingdisagreement"):
            shot(page, f"admin-list-1366-{name.replace('/', '-')}")
    assert not overflowing, overflowing


def test_the_invoice_page_at_1366_px_reads_like_the_document(
    page, live_server, shot, settings
):
    from billing.models import Invoice

    _demo(settings)
    invoice = Invoice.objects.filter(credit_notes__isnull=False).first()
    page.set_viewport_size({"width": 1366, "height": 900})
    _login(page, live_server.url)
    page.goto(f"{live_server.url}/admin/billing/invoice/{invoice.pk}/change/")
    text = page.inner_text("#content")
    assert "(Europe/Madrid)" in text and "Credits applied" in text
    assert invoice.number + ".pdf" in text
    for label in ("Mark paid", "Void…", "Issue a credit note…"):
        assert page.get_by_role("button", name=label).is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "admin-invoice-page-1366")
    # Mark paid asks first, then goes through the service
    page.get_by_role("button", name="Mark paid").click()
    page.get_by_role("button", name="Mark paid").click()  # the confirmation page
    page.wait_for_url(f"**/admin/billing/invoice/{invoice.pk}/change/")
    assert "marked paid" in page.inner_text(".messagelist")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
