"""charges_sync computes in SQL what billing.rules computes in Python: same answers."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Max

from billing import rules
from billing.models import Charge, MarketPrefix
from billing.services import charges_sync
from messaging.models import Message
from messaging.rules import window_is_open
from tests.billing_world import World, rate_card

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_sandbox_statuses(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False


@pytest.mark.parametrize("category", ["marketing", "utility", "authentication"])
@pytest.mark.parametrize("window_open", [True, False])
def test_sql_twin_of_charge_for_agrees_with_the_rule(client, category, window_open):
    world = World(client, start=T)
    if window_open:
        world.contact_writes(T - timedelta(hours=23, minutes=59))
    else:
        world.contact_writes(T - timedelta(hours=24))
    message = world.send_and_deliver(category, T - timedelta(seconds=2))
    charges_sync(company=world.company, invoice=None, until=END)
    charge = Charge.objects.get(message=message)
    last_inbound = message.conversation.messages.filter(
        direction="in", provider_timestamp__lte=charge.delivered_at
    ).aggregate(latest=Max("provider_timestamp"))["latest"]
    delivered_open = window_is_open(
        last_inbound_at=last_inbound, at=charge.delivered_at
    )
    assert delivered_open is window_open
    assert (charge.billable, charge.reason) == rules.charge_for(
        category=category, window_open=window_open
    )


def test_sql_market_agrees_with_market_for_on_every_prefix(client):
    rate_card(rates={}, effective_from=T)
    prefixes = list(MarketPrefix.objects.values_list("prefix", "market__name"))
    rng = random.Random(7)
    numbers = [
        p + "".join(rng.choice("0123456789") for _ in range(12 - len(p)))
        for p, _ in prefixes
    ]
    numbers += ["99912345678", "80012345678", "2900000000"]
    world = World(client, start=T, wa_id=numbers[0])
    messages = []
    for wa_id in numbers:
        world.wa_id, world.conversation = wa_id, None
        messages.append(world.send_and_deliver("marketing", T))
    charges_sync(company=world.company, invoice=None, until=END)
    got = dict(
        Charge.objects.values_list(
            "message__conversation__contact__wa_id", "market__name"
        )
    )
    assert got == {n: rules.market_for(n, prefixes) for n in numbers}
    assert len(messages) == Message.objects.filter(direction="out").count()


def test_charges_sync_twice_changes_nothing(client):
    rate_card(
        rates={("Spain", "utility"): "0.02"}, effective_from=T - timedelta(days=30)
    )
    world = World(client, start=T)
    world.contact_writes(T)
    for i in range(5):
        world.send_and_deliver("utility", T + timedelta(hours=6 * i))
    charges_sync(company=world.company, invoice=None, until=END)
    first = list(
        Charge.objects.values_list(
            "message_id", "billable", "reason", "amount"
        ).order_by("message_id")
    )
    assert charges_sync(company=world.company, invoice=None, until=END) == len(first)
    second = list(
        Charge.objects.values_list(
            "message_id", "billable", "reason", "amount"
        ).order_by("message_id")
    )
    assert first == second
    assert [b for _, b, _, _ in first] == [False, False, False, False, True]
