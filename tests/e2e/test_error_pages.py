"""The 404 and an agent's 403 in Chromium: the portal's look and navigation
(screenshots in screenshots/)."""

import pytest

from tests.factories import CompanyAdminFactory, CompanyFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")


def test_an_agent_sees_the_styled_404_and_the_billing_403_with_the_navigation(
    page, live_server, shot
):
    company = CompanyFactory()
    CompanyAdminFactory(company=company, full_name="Ana Admin")
    CompanyAdminFactory(company=company, full_name="Bruno Boss")
    agent = UserFactory(company=company, email="agent@example.com")
    base = live_server.url
    login(page, base, agent.email)

    response = page.goto(f"{base}/no-such-page/")
    assert response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    assert page.get_by_role("button", name="Log out").is_visible()
    # The stylesheet applied: the top bar has the brand colour, not none.
    assert page.eval_on_selector(
        "nav.navbar", "e => getComputedStyle(e).backgroundColor"
    ) not in ("rgba(0, 0, 0, 0)", "transparent")
    shot(page, "error-404")

    response = page.goto(f"{base}/billing/invoices/")
    assert response.status == 403
    text = page.inner_text("#error-403")
    assert "Billing is for your company's admins: Ana Admin, Bruno Boss" in text
    assert page.get_by_role("link", name="Inbox").is_visible()
    shot(page, "error-403-agent-billing")
    page.get_by_role("link", name="Back to your overview").click()
    assert page.url == f"{base}/"
