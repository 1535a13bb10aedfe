"""A charge's references to the facts it is derived from carry no database
constraint (their deferred checks cost as much as the charge query); Django's
PROTECT still refuses to delete what a charge refers to, on every database."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import ProtectedError

from accounts.models import Company
from billing.models import Charge, Market
from messaging.models import Message
from tests.billing_world import World, rate_card

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def charged(client):
    rate_card(
        rates={("Spain", "utility"): "0.0200"}, effective_from=T - timedelta(days=30)
    )
    world = World(client, start=T)
    world.contact_writes(T)  # the window is open: the utility is free, with why
    world.send_and_deliver("utility", T + timedelta(minutes=1))
    world.invoice(T.date().replace(day=1))
    charge = Charge.objects.get()
    assert charge.window_message_id is not None
    return charge


@pytest.mark.django_db
@pytest.mark.parametrize(
    "referred",
    [
        lambda c: Message.objects.filter(pk=c.message_id),
        lambda c: Message.objects.filter(pk=c.window_message_id),
        lambda c: Company.objects.filter(pk=c.company_id),
        lambda c: Market.objects.filter(pk=c.market_id),
    ],
    ids=["message", "window message", "company", "market"],
)
def test_what_a_charge_refers_to_cannot_be_deleted(charged, referred):
    with pytest.raises(ProtectedError):
        referred(charged).delete()
    assert referred(charged).exists()
    assert Charge.objects.filter(pk=charged.pk).exists()
