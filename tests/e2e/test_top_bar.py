"""The top bar at 1366 px, as a company admin sees it in English and Spanish: one
line, nothing wrapped, and the language picker shows its whole value."""

import pytest

from tests.factories import CompanyAdminFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_top_bar_fits_one_line_at_1366_px(page, live_server, shot, language):
    admin = CompanyAdminFactory(email="ana.maria.fernandez@acme-iberia.example")
    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, live_server.url, admin.email)
    if language != "en":
        with page.expect_navigation():
            page.select_option("select[name=language]", language)
    page.goto(f"{live_server.url}/billing/invoices/")
    # every item of the bar on one line: none taller than one line of text
    heights = page.eval_on_selector_all(
        "nav.navbar .nav-link, nav.navbar .btn, nav.navbar .navbar-brand",
        "els => els.map(e => [e.innerText, e.getBoundingClientRect().height])",
    )
    assert heights and all(h < 45 for _, h in heights), heights
    tops = page.eval_on_selector_all(
        "nav.navbar .nav-link", "els => els.map(e => e.getBoundingClientRect().top)"
    )
    assert max(tops) - min(tops) < 2, tops
    # nothing sticks out sideways
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        page.evaluate("document.documentElement.scrollWidth")
    )
    # the picker shows its whole value
    assert page.eval_on_selector(
        "select[name=language]", "e => e.scrollWidth <= e.clientWidth"
    )
    shot(page, f"top-bar-1366-{language}")


@pytest.mark.parametrize("width", [1024, 820, 390])
def test_below_laptop_widths_the_bar_folds_into_its_menu(page, live_server, width):
    admin = CompanyAdminFactory(email="ana.maria.fernandez@acme-iberia.example")
    page.set_viewport_size({"width": width, "height": 900})
    login(page, live_server.url, admin.email)
    page.goto(f"{live_server.url}/billing/invoices/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    menu = page.get_by_role("button", name="Menu")
    assert menu.is_visible()
    menu.click()
    page.get_by_role("link", name="Invoices").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
