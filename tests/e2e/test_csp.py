"""The Content-Security-Policy in Chromium: the portal's and the admin's pages load
without a single violation, and the behaviour that moved out of inline scripts and
style attributes still works (template inputs, the budget bar)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.services import customer_success_group_sync
from billing.services import budget_set
from tests.e2e.test_portal import PASSWORD, login
from tests.factories import StaffUserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)

# Runs before any page script, whatever the policy (Playwright injects it).
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline")
    + " " + (e.sourceFile || "") + ":" + (e.lineNumber || ""));
});
"""


@pytest.fixture
def watched(page):
    """The page, recording CSP violations from events and the console."""
    console = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda msg: (
            console.append(msg.text) if "Content Security Policy" in msg.text else None
        ),
    )

    def violations(url: str) -> list[str]:
        page.wait_for_load_state("load")
        return [f"{url}: {v}" for v in page.evaluate("window.__csp") + console]

    page.violations = violations
    return page


def _visit(page, url) -> list[str]:
    response = page.goto(url)
    assert response.status == 200, url
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    return page.violations(url)


def test_portal_pages_load_without_a_csp_violation(
    watched, live_server, shot, invoice_world
):
    world, invoice, admin = invoice_world
    world.contact_writes(T)  # a conversation with the agent's template form
    budget_set(company=world.company, amount=Decimal("30"), actor=None)
    base = live_server.url
    found = []

    login(watched, base, admin.email)
    found += watched.violations("login")
    for url in (
        "/",
        "/billing/invoices/",
        f"/billing/invoices/{invoice.pk}/",
        f"/billing/invoices/{invoice.pk}/free/",
        "/billing/usage/",
        "/billing/pricing/",
        "/billing/reconciliation/",
        "/licenses/",
        "/inbox/",
        "/api/schema/docs/",
    ):
        found += _visit(watched, base + url)

    # The budget bar's width comes from the nonced <style>, not an attribute.
    watched.goto(f"{base}/billing/usage/")
    bar = watched.locator("[data-testid=budget-bar]")
    expected = int(bar.get_attribute("aria-valuenow"))
    assert expected > 0
    ratio = watched.evaluate(
        "() => document.getElementById('budget-bar-fill').getBoundingClientRect()"
        ".width / document.querySelector('[data-testid=budget-bar]')"
        ".getBoundingClientRect().width"
    )
    assert abs(ratio * 100 - expected) < 1.5
    shot(watched, "csp-usage")

    # The agent's conversation: conversation.js shows only the chosen template.
    watched.context.clear_cookies()
    login(watched, base, world.agent.email)
    found += watched.violations("agent login")
    found += _visit(watched, f"{base}/inbox/{world.conversation.pk}/")
    fieldsets = watched.locator(".template-params")
    assert fieldsets.count() >= 2
    assert watched.locator(".template-params:visible").count() == 0
    option = watched.locator("#template-select option").nth(1)
    watched.select_option("#template-select", option.get_attribute("value"))
    assert watched.locator(".template-params:visible").count() == 1
    shot(watched, "csp-conversation")
    assert found == []


def test_admin_pages_load_without_a_csp_violation(
    watched, live_server, shot, invoice_world
):
    world, invoice, admin = invoice_world
    cs = StaffUserFactory(email="cs@e2e.example")
    cs.groups.add(customer_success_group_sync())
    base = live_server.url
    found = []

    watched.goto(f"{base}/admin/login/")
    watched.fill("#id_username", cs.email)
    watched.fill("#id_password", PASSWORD)
    watched.click("input[type=submit]")
    found += watched.violations("admin login")
    for url in (
        "/admin/",
        "/admin/accounts/user/",
        f"/admin/accounts/user/{admin.pk}/change/",
        f"/admin/accounts/user/{admin.pk}/password/",
        f"/admin/accounts/company/{world.company.pk}/change/",
        "/admin/billing/invoice/",
        f"/admin/billing/invoice/{invoice.pk}/change/",
        "/admin/billing/invoice/run-billing/",
        "/admin/licensing/licenseassignment/",
        "/admin/messaging/webhookdelivery/",
    ):
        found += _visit(watched, base + url)
    shot(watched, "csp-admin")
    assert found == []
