"""Contract tests for rules B1-B3 of shared/PRICING_RULES.md, through the real
webhook endpoint and the send service, under time travel."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from messaging.exceptions import WindowClosed
from messaging.models import Message
from messaging.services import message_send
from messaging.transports import SandboxTransport
from tests import whatsapp
from tests.factories import (
    BusinessNumberFactory,
    MessageTemplateFactory,
    licensed_user,
)

pytestmark = pytest.mark.django_db

T = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
WA_ID = "34600111222"


@pytest.fixture
def world(client):
    number = BusinessNumberFactory()
    with time_machine.travel(T - timedelta(days=30), tick=False):
        agent = licensed_user(number.company)
    template = MessageTemplateFactory(
        company=number.company, body="Your order shipped."
    )
    return {"client": client, "number": number, "agent": agent, "template": template}


def contact_writes(world, at, wamid, arrives=None):
    payload = whatsapp.inbound_payload(
        phone_number_id=world["number"].phone_number_id, wa_id=WA_ID, wamid=wamid, at=at
    )
    with time_machine.travel(arrives or at, tick=False):
        assert whatsapp.post(world["client"], payload).status_code == 200
    return Message.objects.get(wamid=wamid).conversation


def send_text(world, conversation, at):
    with time_machine.travel(at, tick=False), whatsapp.on_commit():
        return message_send(
            sender=world["agent"], conversation=conversation, text="Hello"
        )


def send_template(world, conversation, at):
    with time_machine.travel(at, tick=False), whatsapp.on_commit():
        return message_send(
            sender=world["agent"], conversation=conversation, template=world["template"]
        )


@pytest.mark.parametrize(
    "offset,is_open",
    [
        (timedelta(0), True),
        (timedelta(hours=24) - timedelta(seconds=1), True),
        (timedelta(hours=24), False),
        (timedelta(hours=24) + timedelta(seconds=1), False),
    ],
)
def test_b1_opening_an_inbound_message_opens_a_24_hour_window(world, offset, is_open):
    conversation = contact_writes(world, T, "wamid.in1")
    if is_open:
        assert send_text(world, conversation, T + offset).direction == "out"
    else:
        with pytest.raises(WindowClosed):
            send_text(world, conversation, T + offset)


def test_b1_opening_a_later_inbound_message_refreshes_the_window(world):
    conversation = contact_writes(world, T, "wamid.in1")
    contact_writes(world, T + timedelta(hours=10), "wamid.in2")
    send_text(world, conversation, T + timedelta(hours=34) - timedelta(seconds=1))
    with pytest.raises(WindowClosed):
        send_text(world, conversation, T + timedelta(hours=34))


def test_b1_opening_uses_the_provider_timestamp_not_the_arrival_time(world):
    # the webhook arrives 30 h late, carrying the event time T
    conversation = contact_writes(
        world, T, "wamid.late", arrives=T + timedelta(hours=30)
    )
    conversation.refresh_from_db()
    assert conversation.last_inbound_at == T
    with pytest.raises(WindowClosed):
        send_text(world, conversation, T + timedelta(hours=30))


def test_b1_opening_an_older_inbound_arriving_late_never_moves_the_window_back(world):
    conversation = contact_writes(world, T + timedelta(hours=5), "wamid.new")
    contact_writes(world, T, "wamid.old", arrives=T + timedelta(hours=6))
    conversation.refresh_from_db()
    assert conversation.last_inbound_at == T + timedelta(hours=5)


def test_b2_only_inbound_messages_open_the_window_not_outbound_or_receipts(world):
    # given a conversation whose window closed long ago
    conversation = contact_writes(world, T, "wamid.in1")
    later = T + timedelta(days=3)
    # when the business sends a template and receipts come back
    sent = send_template(world, conversation, later)
    payload = whatsapp.status_payload(
        phone_number_id=world["number"].phone_number_id,
        items=[
            whatsapp.status_item(
                wamid=sent.wamid, status="delivered", at=later + timedelta(seconds=5)
            ),
            whatsapp.status_item(
                wamid=sent.wamid, status="read", at=later + timedelta(seconds=9)
            ),
        ],
    )
    with time_machine.travel(later + timedelta(seconds=10), tick=False):
        whatsapp.post(world["client"], payload)
    # then the window stays closed
    conversation.refresh_from_db()
    assert conversation.last_inbound_at == T
    with pytest.raises(WindowClosed):
        send_text(world, conversation, later + timedelta(minutes=1))


def test_b3_what_may_be_sent_inside_the_window_any_message(world):
    conversation = contact_writes(world, T, "wamid.in1")
    assert send_text(world, conversation, T + timedelta(hours=1)).type == "text"
    assert send_template(world, conversation, T + timedelta(hours=2)).type == "template"


def test_b3_what_may_be_sent_outside_the_window_only_templates_and_nothing_reaches_the_provider(
    world, monkeypatch
):
    conversation = contact_writes(world, T, "wamid.in1")
    calls = []
    real_send = SandboxTransport.send

    def spy(self, **kwargs):
        calls.append(kwargs)
        return real_send(self, **kwargs)

    monkeypatch.setattr(SandboxTransport, "send", spy)
    closed_at = T + timedelta(hours=24)
    # free-form is refused, saying when the window closed and that a template is needed
    with pytest.raises(WindowClosed) as refused:
        send_text(world, conversation, closed_at + timedelta(hours=1))
    assert "closed at 2026-03-11 09:30 UTC" in refused.value.message
    assert "template" in refused.value.message
    assert refused.value.context["closes_at"] == closed_at
    assert calls == []
    assert not Message.objects.filter(direction="out").exists()
    # an approved template goes out
    send_template(world, conversation, closed_at + timedelta(hours=1))
    assert len(calls) == 1


def test_b3_what_may_be_sent_with_no_inbound_ever_only_templates(world):
    from tests.factories import ConversationFactory

    conversation = ConversationFactory(business_number=world["number"])
    with pytest.raises(WindowClosed, match="never opened"):
        send_text(world, conversation, T)
    assert send_template(world, conversation, T).status in {
        "accepted",
        "sent",
        "delivered",
        "read",
    }
