"""F2 free entry point windows, as the feature states them.

An inbound message carrying a click-to-WhatsApp ad ``referral`` opens, when the
business answers within 24 h, a 72-hour window from that answer in which every
message (marketing included) is free; the 24 h window still governs what may be
sent. When a status carries ``pricing.type = free_entry_point``, that is respected.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from billing import rules
from billing.models import Charge, ChargePolicy, ChargePolicyAssignment
from billing.policies import PROVIDER_2026_10, policies_seed
from billing.services import charge_policy_assign
from messaging.exceptions import WindowClosed
from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)
H = timedelta(hours=1)
S = timedelta(seconds=1)
RATES = {
    ("North America", "marketing"): "0.0250",
    ("North America", "utility"): "0.0040",
    ("North America", "authentication"): "0.0135",
}


@pytest.fixture
def world(client):
    policies_seed(policy_model=ChargePolicy, assignment_model=ChargePolicyAssignment)
    rate_card(rates=RATES, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    # The contact of Meta's click-to-WhatsApp sample: +1 650 …
    return World(client, start=T, wa_id="16505551234")


def reason(message) -> tuple[bool, str]:
    charge = Charge.objects.get(message=message)
    return charge.billable, charge.reason


def test_f2_answer_within_24h_opens_a_72h_free_window_marketing_included(world):
    clicked = world.contact_clicks_ad(T)
    answer_at = T + 2 * H
    answer = world.send_and_deliver("marketing", answer_at)  # the answer itself
    world.contact_writes(answer_at + 47 * H)  # keeps the 24 h window open to send
    utility = world.send_and_deliver("utility", answer_at + 60 * H)
    last_free = world.send_template("marketing", answer_at + 71 * H)
    world.deliver(last_free, answer_at + 72 * H - S)
    first_paid = world.send_template("marketing", answer_at + 71 * H)
    world.deliver(first_paid, answer_at + 72 * H)
    invoice = world.invoice(OCT)
    for message in (answer, utility, last_free):
        assert reason(message) == (False, rules.Reason.ENTRY_POINT)
    charge = Charge.objects.get(message=answer)
    assert charge.entry_point_message == clicked
    assert charge.entry_point_opened_at == answer_at
    assert reason(first_paid) == (True, rules.Reason.MARKETING)
    assert invoice.total == Decimal("0.03")  # one marketing template, 0.0250


def test_f2_no_free_window_when_the_answer_comes_after_24h(world):
    world.contact_clicks_ad(T)
    late = world.send_and_deliver("marketing", T + 24 * H)  # window closed: a template
    world.invoice(OCT)
    assert reason(late) == (True, rules.Reason.MARKETING)


def test_f2_the_first_answer_opens_it_within_24h_to_the_second(world):
    world.contact_clicks_ad(T)
    first = world.send_and_deliver("marketing", T + 24 * H - S)
    world.invoice(OCT)
    assert reason(first) == (False, rules.Reason.ENTRY_POINT)


def test_f2_an_inbound_message_without_referral_opens_no_free_window(world):
    world.contact_writes(T)
    marketing = world.send_and_deliver("marketing", T + H)
    world.invoice(OCT)
    assert reason(marketing) == (True, rules.Reason.MARKETING)


def test_f2_the_24h_window_still_governs_what_may_be_sent(world):
    world.contact_clicks_ad(T)
    world.send_and_deliver("marketing", T + H)  # opens the 72 h free window
    with pytest.raises(WindowClosed):
        world.send_text(T + 30 * H)  # free window open, customer service window not
    template = world.send_and_deliver("marketing", T + 30 * H)
    world.invoice(OCT)
    assert reason(template) == (False, rules.Reason.ENTRY_POINT)


def test_f2_free_entry_point_wins_over_a_policy_that_charges_service(world):
    charge_policy_assign(
        company=world.company,
        policy=ChargePolicy.objects.get(name=PROVIDER_2026_10),
        effective_from=datetime(2026, 10, 1, tzinfo=UTC),
        actor=None,
    )
    world.contact_clicks_ad(T)
    text = world.send_text(T + H)
    world.deliver(text)
    world.contact_writes(T + 90 * H)  # a plain message later: window, no free entry
    later = world.send_text(T + 91 * H)
    world.deliver(later)
    world.invoice(OCT)
    assert reason(text) == (False, rules.Reason.ENTRY_POINT)
    assert reason(later) == (True, rules.Reason.SERVICE)


def test_f2_provider_free_entry_point_pricing_is_respected(world):
    world.contact_writes(T)  # no referral reached us, but the provider says so
    message = world.send_template("marketing", T + H)
    world.deliver(
        message,
        pricing={
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_entry_point",
            "category": "marketing",
        },
    )
    world.invoice(OCT)
    assert reason(message) == (False, rules.Reason.PROVIDER_ENTRY_POINT)


def test_f2_the_portal_explains_why_it_was_free(client, world):
    world.contact_clicks_ad(T)
    world.send_and_deliver("marketing", T + 2 * H)
    invoice = world.invoice(OCT)
    client.force_login(CompanyAdminFactory(company=world.company))
    page = client.get(reverse("billing:invoice-free", args=[invoice.pk]))
    text = page.content.decode()
    assert "72-hour free entry point window" in text
    assert "2026-10-06 11:00" in text and "2026-10-06 09:00" in text
    assert "entry point" in client.get(reverse("billing:pricing")).content.decode()


def test_f2_the_sandbox_provider_reports_free_entry_points_as_we_classify_them(
    world, settings
):
    from billing.models import PricingDisagreement

    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = True
    world.contact_clicks_ad(T)
    answer = world.send_template("marketing", T + H)  # delivered by the sandbox
    world.contact_writes(T + 100 * H)
    later = world.send_template("marketing", T + 101 * H)  # past the 72 h
    answer.refresh_from_db()
    later.refresh_from_db()
    assert answer.pricing["type"] == "free_entry_point"
    assert later.pricing["type"] == "regular"
    world.invoice(OCT)
    assert reason(answer) == (False, rules.Reason.ENTRY_POINT)  # ours decides first
    assert reason(later) == (True, rules.Reason.MARKETING)
    assert not PricingDisagreement.objects.exists()
