"""A status posted for one company's business number only ever touches that
company's messages, whatever wamid it carries (found from outside: a status
posted for company B's number with company A's wamid failed A's message and
rewrote its pricing)."""

from datetime import UTC, datetime, timedelta

import pytest

from messaging.models import Message, MessageStatusEvent
from messaging.services import status_orphans_link
from tests import whatsapp
from tests.factories import BusinessNumberFactory, ConversationFactory

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, tzinfo=UTC)
PRICING = {"billable": True, "category": "marketing", "pricing_model": "PMP"}


@pytest.fixture(autouse=True)
def _no_sandbox_statuses(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False


def outbound(number, wamid: str) -> Message:
    return Message.objects.create(
        company=number.company,
        conversation=ConversationFactory(business_number=number),
        direction="out",
        type="template",
        wamid=wamid,
        provider_timestamp=T,
        status="accepted",
    )


def post_status(client, number, wamid, status, at, **kw):
    item = whatsapp.status_item(wamid=wamid, status=status, at=at, **kw)
    payload = whatsapp.status_payload(
        phone_number_id=number.phone_number_id, items=[item]
    )
    assert whatsapp.post(client, payload).status_code == 200


def test_a_status_for_another_companys_number_leaves_the_message_alone(client):
    # given: company A's message, and company B's number
    number_a, number_b = BusinessNumberFactory(), BusinessNumberFactory()
    message = outbound(number_a, "wamid.A1")
    # when: B's number reports A's wamid as failed, with pricing
    post_status(
        client,
        number_b,
        "wamid.A1",
        "failed",
        T + timedelta(seconds=5),
        errors=[{"code": 131026, "title": "Message undeliverable"}],
        pricing=PRICING,
    )
    # then: A's message is untouched, and A's own report still counts
    message.refresh_from_db()
    assert (message.status, message.error_code, message.pricing) == (
        "accepted",
        None,
        None,
    )
    post_status(client, number_a, "wamid.A1", "delivered", T + timedelta(seconds=5))
    message.refresh_from_db()
    assert (message.status, message.delivered_at, message.error_code) == (
        "delivered",
        T + timedelta(seconds=5),
        None,
    )
    foreign = MessageStatusEvent.objects.get(company=number_b.company)
    assert foreign.message is None


def test_an_early_status_from_another_company_is_never_linked_later(client):
    # given: B's number reports a wamid nobody has sent yet
    number_a, number_b = BusinessNumberFactory(), BusinessNumberFactory()
    post_status(
        client,
        number_b,
        "wamid.A2",
        "failed",
        T + timedelta(seconds=5),
        errors=[{"code": 131026, "title": "Message undeliverable"}],
    )
    # when: company A's message with that wamid appears
    message = outbound(number_a, "wamid.A2")
    linked = status_orphans_link(company_id=number_a.company_id, wamids=["wamid.A2"])
    # then
    message.refresh_from_db()
    assert (linked, message.status, message.error_code) == (0, "accepted", None)
    assert MessageStatusEvent.objects.get(wamid="wamid.A2").message is None


def test_an_early_status_of_the_same_company_is_linked_later(client):
    number = BusinessNumberFactory()
    post_status(client, number, "wamid.A3", "delivered", T + timedelta(seconds=5))
    message = outbound(number, "wamid.A3")
    assert status_orphans_link(company_id=number.company_id, wamids=["wamid.A3"]) == 1
    message.refresh_from_db()
    assert message.delivered_at == T + timedelta(seconds=5)
