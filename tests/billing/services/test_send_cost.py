"""The composer's cost preview equals the charge the delivered message gets:
preview a send, send it, deliver it at the previewed instant, compute the
month's invoice and compare, over categories × window states × markets ×
volume tiers × charge policies (C2-C6, F1-F3)."""

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import rules
from billing.models import Charge, Market
from billing.services import (
    charge_policy_assign,
    send_cost_preview,
    usage_sync,
    volume_tiers_set,
)
from messaging.models import Message
from tests.billing_world import World, rate_card
from tests.factories import ChargePolicyFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # mid-month: the previewed send
JUNE = date(2026, 6, 1)
_n = itertools.count(1000)
MARKETS = {"Spain": "3460", "Mexico": "52155", "Other": "99971"}
RATES = {
    ("Spain", "marketing"): "0.0509",
    ("Spain", "utility"): "0.0200",
    ("Spain", "authentication"): "0.0300",
    ("Mexico", "marketing"): "0.0436",
    ("Mexico", "utility"): "0.0100",
    ("Mexico", "authentication"): "0.0238",
    ("Other", "marketing"): "0.0604",
    ("Other", "utility"): "0.0077",
    ("Other", "authentication"): "0.0300",
}


@pytest.fixture(autouse=True)
def _no_sandbox_statuses(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False


def _world(client, market: str, policy: str) -> World:
    world = World(
        client,
        start=T0,
        wa_id=f"{MARKETS[market]}{next(_n):07d}",
        tz="Europe/Madrid",
    )
    if policy == "all_charged":
        charge_policy_assign(
            company=world.company,
            policy=ChargePolicyFactory(
                utility_in_window=True,
                service_in_window=True,
                authentication_in_window=False,
            ),
            effective_from=datetime(2026, 1, 1, tzinfo=UTC),
            actor=None,
        )
    return world


def _prepare_window(world: World, window: str) -> None:
    if window == "open":
        world.contact_writes(T0 - timedelta(hours=2))
    elif window == "closing":
        world.contact_writes(T0 - timedelta(hours=23, minutes=30))
    elif window == "closed":
        world.contact_writes(T0 - timedelta(hours=30))
    elif window == "entry_point":
        world.contact_clicks_ad(T0 - timedelta(hours=1))
    # "never": the contact never wrote


@settings(
    max_examples=45,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    category=st.sampled_from([*rules.TEMPLATE_CATEGORIES, rules.SERVICE]),
    window=st.sampled_from(["open", "closing", "closed", "never", "entry_point"]),
    market=st.sampled_from(sorted(MARKETS)),
    tiers=st.sampled_from(["none", "from_first", "from_third"]),
    earlier=st.integers(0, 3),
    policy=st.sampled_from(["contract", "all_charged"]),
)
def test_the_preview_equals_the_charge_the_delivered_message_gets(
    client, category, window, market, tiers, earlier, policy
):
    rate_card(rates=RATES, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    world = _world(client, market, policy)
    tiered = category in rules.TIERED_CATEGORIES and tiers != "none"
    if tiered:
        volume_tiers_set(
            company=world.company,
            market=Market.objects.get(name=market),
            category=category,
            effective_from=JUNE,
            tiers=[(1, "0.0150"), (3, "0.0050")]
            if tiers == "from_first"
            else [(3, "0.0050")],
            actor=None,
        )
    # Earlier charged messages of the month (outside any window) count for tiers.
    if category in rules.TEMPLATE_CATEGORIES:
        for i in range(earlier):
            world.send_and_deliver(category, T0 - timedelta(days=10, hours=i))
    _prepare_window(world, window)
    conversation = world._conversation()
    template = world.templates.get(category) if category != rules.SERVICE else None
    open_now = window in ("open", "closing", "entry_point")
    if template is None and not open_now:
        return  # B3: a free-form text cannot be sent outside the window
    with time_machine.travel(T0, tick=False):
        preview = send_cost_preview(conversation=conversation, template=template, at=T0)
    sent = (
        world.send_text(T0) if template is None else world.send_template(category, T0)
    )
    world.deliver(sent, T0)
    world.invoice(JUNE)
    charge = Charge.objects.filter(message=sent).first()
    cost = preview.cost
    if charge is None:
        # Only a free-form message free by C5 gets no charge row.
        assert (cost.category, cost.billable, cost.reason) == (
            rules.SERVICE,
            False,
            rules.Reason.SERVICE_FREE,
        )
        return
    assert (cost.billable, cost.reason) == (charge.billable, charge.reason)
    assert cost.amount == charge.amount
    assert preview.market == charge.market.name
    if cost.billable:
        assert preview.currency == charge.currency
        assert (cost.tier.id if cost.tier else None) == charge.tier_id


def test_a_marketing_template_to_spain_costs_its_rate_on_delivery(client):
    rate_card(rates=RATES, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    world = _world(client, "Spain", "contract")
    world.contact_writes(T0 - timedelta(hours=2))
    preview = send_cost_preview(
        conversation=world._conversation(),
        template=world.templates["marketing"],
        at=T0,
    )
    assert preview.cost.billable
    assert preview.cost.amount == Decimal("0.0509")
    assert preview.market == "Spain"
    assert preview.currency == "EUR"


def test_a_utility_template_in_the_window_is_free_until_it_closes(client):
    rate_card(rates=RATES, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    world = _world(client, "Spain", "contract")
    world.contact_writes(T0 - timedelta(hours=20))
    preview = send_cost_preview(
        conversation=world._conversation(),
        template=world.templates["utility"],
        at=T0,
    )
    assert not preview.cost.billable
    assert preview.cost.reason == rules.Reason.UTILITY_IN_WINDOW
    assert preview.window_closes_at == T0 + timedelta(hours=4)


def test_the_answer_to_an_ad_opens_a_free_entry_point_window(client):
    rate_card(rates=RATES, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    world = _world(client, "Spain", "contract")
    world.contact_clicks_ad(T0 - timedelta(hours=3))
    preview = send_cost_preview(
        conversation=world._conversation(),
        template=world.templates["marketing"],
        at=T0,
    )
    assert preview.cost.reason == rules.Reason.ENTRY_POINT
    assert preview.cost.amount == 0


def _tiered_world(client) -> World:
    rate_card(rates=RATES, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    world = _world(client, "Spain", "contract")
    volume_tiers_set(
        company=world.company,
        market=Market.objects.get(name="Spain"),
        category="utility",
        effective_from=JUNE,
        tiers=[(2, "0.0050")],
        actor=None,
    )
    return world


def test_the_preview_saves_nothing(client):
    world = _tiered_world(client)
    world.send_and_deliver("utility", T0 - timedelta(days=3))
    before = (Charge.objects.count(), Message.objects.count())
    preview = send_cost_preview(
        conversation=world._conversation(),
        template=world.templates["utility"],
        at=T0,
    )
    assert preview.position == 2  # one charged utility message before it
    assert preview.cost.amount == Decimal("0.0050")
    assert (Charge.objects.count(), Message.objects.count()) == before


def test_the_composer_preview_performs_no_write_and_takes_no_lock(client):
    # A GET of the composer: the tier position is read from the month so far,
    # not derived by rebuilding the month's charges in a rolled-back transaction.
    world = _tiered_world(client)
    world.send_and_deliver("utility", T0 - timedelta(days=3))
    client.force_login(world.agent)
    url = reverse("conversation-cost", args=[world._conversation().pk])
    with (
        time_machine.travel(T0, tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        response = client.get(url, {"template": world.templates["utility"].pk})
    assert response.status_code == 200
    assert "0.0050" in response.content.decode()  # the second utility message's tier
    statements = [q["sql"].lstrip().upper() for q in queries.captured_queries]
    ours = [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]
    assert ours and all(s.startswith("SELECT") for s in ours), ours
    assert not [s for s in ours if "FOR UPDATE" in s or "FOR NO KEY" in s], ours


def test_a_delivery_counts_for_the_tier_once_the_month_so_far_has_synced_it(
    client, settings
):
    world = _tiered_world(client)
    settings.BILLING_USAGE_SYNC_ON_CHANGE = False  # as if its sync task were pending
    world.send_and_deliver("utility", T0 - timedelta(days=3))

    def position() -> int:
        with time_machine.travel(T0, tick=False):
            return send_cost_preview(
                conversation=world._conversation(),
                template=world.templates["utility"],
                at=T0,
            ).position

    assert position() == 1
    with time_machine.travel(T0, tick=False):
        usage_sync(company=world.company)
    assert position() == 2


def test_a_number_of_no_market_yet_is_previewed_as_other_unpriced_creating_nothing(
    client,
):
    # No market "Other" exists yet (no rate, no charge made it): the preview
    # names it and prices nothing, and leaves the markets as they were.
    rate_card(
        rates={("Spain", "marketing"): "0.0615"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world = World(client, start=T0, wa_id=f"99971{next(_n):07d}")
    Market.objects.filter(name="Other").delete()  # as on a database without it
    markets = Market.objects.count()
    with time_machine.travel(T0, tick=False):
        preview = send_cost_preview(
            conversation=world._conversation(),
            template=world.templates["marketing"],
            at=T0,
        )
    assert preview.market == "Other"
    assert (preview.cost.billable, preview.cost.amount) == (True, None)
    assert Market.objects.count() == markets
