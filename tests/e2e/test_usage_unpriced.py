"""The month so far says which charged messages have no price yet, in Chromium:
a notice above the chart, the estimated total without them."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory

from .conftest import SCREENSHOTS
from .test_portal import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)


def test_the_month_so_far_lists_the_messages_without_a_price(
    page, live_server, settings, client
):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    rate_card(
        rates={("Spain", "marketing"): "0.0615"},
        effective_from=T - timedelta(days=30),
    )
    world = World(client, start=T)
    world.send_and_deliver("marketing", T)  # Spain: priced
    world.wa_id, world.conversation = "491511234567", None  # Germany: no rate
    for minutes in (5, 10):
        world.send_and_deliver("marketing", T + timedelta(minutes=minutes))
    admin = CompanyAdminFactory(company=world.company, email="finance@e2e.example")
    with time_machine.travel(LATER, tick=True):
        login(page, live_server.url, admin.email)
        page.goto(f"{live_server.url}/billing/usage/")
        notice = page.locator("[data-testid=unpriced]")
        assert notice.is_visible()
        assert "2 marketing messages in Germany" in notice.inner_text()
        assert "not in the estimated total" in notice.inner_text()
        total = page.locator("[data-testid=estimated-total]").inner_text()
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "usage_unpriced.png"), full_page=True)
    assert total == "€0.06"  # the Spanish message only (0.0615, no licenses)
