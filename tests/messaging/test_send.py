"""The one send service: licenses, templates, idempotency, sandbox lifecycle."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from licensing.exceptions import SenderNotLicensed
from licensing.services import license_revoke
from messaging.exceptions import InvalidMessage, TemplateNotSendable
from messaging.models import Message, MessageStatusEvent, WebhookDelivery
from messaging.services import message_send
from messaging.transports import SandboxTransport, TransportError
from tests import whatsapp
from tests.factories import (
    BusinessNumberFactory,
    ContactFactory,
    ConversationFactory,
    MessageTemplateFactory,
    UserFactory,
    licensed_user,
)

pytestmark = pytest.mark.django_db

T = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def conversation():
    with time_machine.travel(T - timedelta(days=1), tick=False):
        return ConversationFactory()


@pytest.fixture
def agent(conversation):
    with time_machine.travel(T - timedelta(days=1), tick=False):
        return licensed_user(conversation.company)


def send(**kwargs):
    with time_machine.travel(T, tick=False), whatsapp.on_commit():
        return message_send(**kwargs)


def test_an_unlicensed_user_can_not_send_and_nothing_is_recorded(conversation):
    reader = UserFactory(company=conversation.company)
    template = MessageTemplateFactory(company=conversation.company, body="Hi")
    with pytest.raises(SenderNotLicensed, match="holds no WhatsApp license"):
        send(sender=reader, conversation=conversation, template=template)
    assert not Message.objects.exists()


def test_a_revoked_user_can_not_send(conversation, agent):
    template = MessageTemplateFactory(company=conversation.company, body="Hi")
    with time_machine.travel(T - timedelta(hours=1), tick=False):
        license_revoke(company=conversation.company, users=[agent], actor=None)
    with pytest.raises(SenderNotLicensed):
        send(sender=agent, conversation=conversation, template=template)


@pytest.mark.parametrize(
    "status,words",
    [
        ("pending", "only approved templates"),
        ("rejected", "only approved templates"),
        ("in_appeal", "only approved templates"),
        ("paused", "paused by WhatsApp"),
        ("disabled", "disabled by WhatsApp"),
    ],
)
def test_only_approved_templates_are_sent(conversation, agent, status, words):
    template = MessageTemplateFactory(
        company=conversation.company, status=status, body="Hi"
    )
    with pytest.raises(TemplateNotSendable, match=words):
        send(sender=agent, conversation=conversation, template=template)
    assert not Message.objects.exists()


def test_a_template_of_another_company_is_refused(conversation, agent):
    template = MessageTemplateFactory(body="Hi")
    with pytest.raises(TemplateNotSendable, match="another company"):
        send(sender=agent, conversation=conversation, template=template)


def test_placeholders_must_all_be_filled(conversation, agent):
    template = MessageTemplateFactory(company=conversation.company)
    with pytest.raises(TemplateNotSendable, match="needs 2 value"):
        send(sender=agent, conversation=conversation, template=template, params=["Ana"])
    message = send(
        sender=agent,
        conversation=conversation,
        template=template,
        params=["Ana", "A-17"],
    )
    assert message.body == "Hello Ana, your order A-17 has shipped."
    assert message.template_params == ["Ana", "A-17"]
    assert message.template_category == "utility"


def test_text_and_template_together_is_refused(conversation, agent):
    template = MessageTemplateFactory(company=conversation.company, body="Hi")
    with pytest.raises(InvalidMessage):
        send(sender=agent, conversation=conversation, template=template, text="x")


def test_the_same_idempotency_key_sends_once(conversation, agent, monkeypatch):
    template = MessageTemplateFactory(company=conversation.company, body="Hi")
    calls = []
    real = SandboxTransport.send
    monkeypatch.setattr(
        SandboxTransport, "send", lambda self, **kw: calls.append(1) or real(self, **kw)
    )
    first = send(
        sender=agent,
        conversation=conversation,
        template=template,
        idempotency_key="k-1",
    )
    again = send(
        sender=agent,
        conversation=conversation,
        template=template,
        idempotency_key="k-1",
    )
    assert first.pk == again.pk
    assert len(calls) == 1
    assert Message.objects.filter(direction="out").count() == 1


def test_a_transport_error_records_nothing(conversation, agent, monkeypatch):
    template = MessageTemplateFactory(company=conversation.company, body="Hi")

    def refuse(self, **kw):
        raise TransportError(
            "Rate limit hit",
            provider_code=130429,
            title="Rate limit hit",
            transient=True,
        )

    monkeypatch.setattr(SandboxTransport, "send", refuse)
    with pytest.raises(TransportError):
        send(sender=agent, conversation=conversation, template=template)
    assert not Message.objects.exists()


def test_sandbox_emits_sent_delivered_read_through_the_webhook_path(
    conversation, agent
):
    template = MessageTemplateFactory(
        company=conversation.company, body="Hi", category="marketing"
    )
    message = send(sender=agent, conversation=conversation, template=template)
    message.refresh_from_db()
    assert message.status == "read"
    assert message.delivered_at == T + timedelta(seconds=2)
    assert message.pricing["category"] == "marketing"
    assert message.pricing["billable"] is True
    assert set(MessageStatusEvent.objects.values_list("status", flat=True)) == {
        "sent",
        "delivered",
        "read",
    }
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PROCESSED


def test_sandbox_fails_undeliverable_numbers(agent):
    number = BusinessNumberFactory(company=agent.company)
    contact = ContactFactory(company=agent.company, wa_id="34600000000")
    conversation = ConversationFactory(business_number=number, contact=contact)
    template = MessageTemplateFactory(company=agent.company, body="Hi")
    message = send(sender=agent, conversation=conversation, template=template)
    message.refresh_from_db()
    assert (message.status, message.delivered_at, message.error_code) == (
        "failed",
        None,
        131026,
    )
