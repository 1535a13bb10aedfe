"""Issue 8 in Chromium: a company on the provider's 2026-10 policy, with volume
tiers, an ad-referred conversation and a pricing the provider reports differently,
seen by its admin in the portal."""

from datetime import UTC, date, datetime, timedelta

import pytest

from billing.models import ChargePolicy, ChargePolicyAssignment, Market
from billing.policies import PROVIDER_2026_10, policies_seed
from billing.services import charge_policy_assign, volume_tiers_set
from tests.billing_world import World, rate_card
from tests.e2e.test_portal import login
from tests.factories import CompanyAdminFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.fixture
def pricing_world(client, settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    policies_seed(policy_model=ChargePolicy, assignment_model=ChargePolicyAssignment)
    rate_card(
        rates={("Spain", "marketing"): "0.0615", ("Spain", "utility"): "0.0200"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world = World(client, start=T)
    charge_policy_assign(
        company=world.company,
        policy=ChargePolicy.objects.get(name=PROVIDER_2026_10),
        effective_from=datetime(2026, 10, 1, tzinfo=UTC),
        actor=None,
    )
    volume_tiers_set(
        company=world.company,
        market=Market.objects.get(name="Spain"),
        category="utility",
        effective_from=date(2026, 10, 1),
        tiers=[(3, "0.0100")],
        actor=None,
    )
    world.contact_clicks_ad(T)
    world.send_and_deliver("marketing", T + H)  # free: entry point
    for i in range(4):  # utility outside any window: 2 at the card, 2 in the tier
        world.send_and_deliver("utility", T + (100 + i) * H)
    world.contact_writes(T + 200 * H)
    text = world.send_text(T + 201 * H)  # charged at the utility rate by the policy
    world.deliver(
        text,
        pricing={
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_customer_service",
            "category": "service",
        },
    )
    invoice = world.invoice(date(2026, 10, 1))
    admin = CompanyAdminFactory(company=world.company, email="pricing@e2e.example")
    return world, invoice, admin


def test_company_admin_sees_policy_tiers_entry_point_and_reconciliation(
    page, live_server, shot, pricing_world
):
    _, invoice, admin = pricing_world
    base = live_server.url
    login(page, base, admin.email)
    page.click("nav >> text=Pricing")
    assert PROVIDER_2026_10 in page.locator("h2").first.inner_text()
    matrix = page.locator("[data-testid=policy-matrix]").inner_text()
    assert "Service (free-form)" in matrix
    assert "0.0100" in page.locator("[data-testid=tiers]").inner_text()
    shot(page, "07-pricing")

    page.goto(f"{base}/billing/invoices/{invoice.pk}/")
    lines = page.locator("table.invoice-lines").inner_text()
    assert "Free-form messages, Spain" in lines
    assert "volume tier from message 3 of the month" in lines
    shot(page, "08-invoice-tiers")

    page.click("text=See which and why")
    assert "free entry point window" in page.content()

    page.goto(f"{base}/billing/invoices/{invoice.pk}/")
    page.click("[data-testid=disagreements-notice] >> text=See which")
    assert "Pricing reconciliation" in page.locator("h1").inner_text()
    assert page.locator("table").last.locator("tbody tr").count() == 1
    shot(page, "09-reconciliation")
