"""The composer's cost preview endpoint (portal): the words, the viewer's zone,
access, and that a GET saves nothing."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from billing.models import Charge
from messaging.models import Message
from tests.billing_world import World, rate_card
from tests.factories import ConversationFactory, MessageTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # 12:00 in Madrid


@pytest.fixture(autouse=True)
def _no_sandbox_statuses(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False


@pytest.fixture
def world(client):
    rate_card(
        rates={("Spain", "marketing"): "0.0509", ("Spain", "utility"): "0.0200"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return World(client, start=T0, wa_id="34600111222", tz="Europe/Madrid")


def cost(client, world, **params):
    url = reverse("conversation-cost", kwargs={"pk": world._conversation().pk})
    with time_machine.travel(T0, tick=False):
        return client.get(url, params)


def test_a_marketing_template_to_spain(client, world):
    world.contact_writes(T0 - timedelta(hours=2))
    client.force_login(world.agent)
    response = cost(client, world, template=world.templates["marketing"].pk)
    assert response.status_code == 200
    assert (
        "Marketing template to Spain: €0.0509 on delivery" in response.content.decode()
    )


def test_a_utility_template_is_free_while_the_window_is_open_in_the_viewers_zone(
    client, world
):
    # Written 21 h 58 min before: open until 12:02 UTC, 14:02 in Madrid.
    world.contact_writes(T0 - timedelta(hours=21, minutes=58))
    client.force_login(world.agent)
    html = cost(client, world, template=world.templates["utility"].pk).content.decode()
    assert "Utility template: free, the window is open until 14:02" in html


def test_a_free_entry_point_window(client, world):
    world.contact_clicks_ad(T0 - timedelta(hours=1))
    client.force_login(world.agent)
    html = cost(
        client, world, template=world.templates["marketing"].pk
    ).content.decode()
    assert "Free entry point window: free" in html


def test_a_free_form_message_in_the_window(client, world):
    world.contact_writes(T0 - timedelta(hours=1))
    client.force_login(world.agent)
    html = cost(client, world, kind="text").content.decode()
    # It closes tomorrow (16 June, 11:00 in Madrid): the day is said too.
    assert "Free-form message: free, the window is open until 16 Jun, 11:00" in html


def test_a_template_without_a_rate_says_so(client, world):
    client.force_login(world.agent)
    html = cost(
        client, world, template=world.templates["authentication"].pk
    ).content.decode()
    assert "its rate is not set yet" in html


def test_the_preview_is_in_spanish_too(client, world):
    world.contact_writes(T0 - timedelta(hours=2))
    client.force_login(world.agent)
    client.cookies["django_language"] = "es"
    html = cost(
        client, world, template=world.templates["marketing"].pk
    ).content.decode()
    assert "Plantilla de Marketing a Spain: 0,0509" in html


def test_another_companys_template_or_conversation_is_refused(client, world):
    world.contact_writes(T0 - timedelta(hours=2))
    client.force_login(world.agent)
    foreign_template = MessageTemplateFactory()
    html = cost(client, world, template=foreign_template.pk).content.decode()
    assert "Choose an approved template of your company." in html
    foreign = ConversationFactory()
    url = reverse("conversation-cost", kwargs={"pk": foreign.pk})
    assert client.get(url, {"kind": "text"}).status_code == 404


def test_the_preview_writes_nothing(client, world):
    world.send_and_deliver("utility", T0 - timedelta(days=2))
    client.force_login(UserFactory(company=world.company))  # readers may look too
    before = (Charge.objects.count(), Message.objects.count())
    assert (
        cost(client, world, template=world.templates["utility"].pk).status_code == 200
    )
    assert (Charge.objects.count(), Message.objects.count()) == before
