"""End-to-end tests in Debian's headless Chromium, driven by Playwright for Python.

No browser is downloaded: Playwright launches the system's /usr/bin/chromium
(override with CHROMIUM_PATH). Screenshots go to the git-ignored screenshots/.
"""

import os
import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# Playwright's sync API runs an event loop in this thread; the live server's
# database access from the test thread is still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _chromium() -> str | None:
    return (
        os.environ.get("CHROMIUM_PATH")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


@pytest.fixture(scope="session")
def browser():
    executable = _chromium()
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(
        accept_downloads=True, locale="en-US", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def shot():
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(page, name: str):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


_T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)


# October 2026: three delivered marketing templates on a finalized invoice.
@pytest.fixture
def invoice_world(client, settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    rate_card(
        rates={("Spain", "marketing"): "0.0615"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world = World(
        client, start=_T, tax_rate=Decimal("0.21"), license_price=Decimal("15")
    )
    for i in range(3):
        world.send_and_deliver("marketing", _T + timedelta(minutes=i))
    invoice = world.finalize(world.invoice(date(2026, 10, 1)))
    admin = CompanyAdminFactory(company=world.company, email="finance@e2e.example")
    return world, invoice, admin
