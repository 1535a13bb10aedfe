"""Starting a conversation: a first template to a phone number, from the API
(POST /api/conversations/) and the service behind it and the inbox page."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from licensing.services import license_revoke
from messaging.exceptions import InvalidPhoneNumber, OptInMissing
from messaging.models import Contact, ContactOptIn, Conversation, Message
from messaging.services import conversation_start
from tests.factories import (
    BusinessNumberFactory,
    CompanyFactory,
    ContactFactory,
    ConversationFactory,
    MessageTemplateFactory,
    UserFactory,
    licensed_user,
)

pytestmark = pytest.mark.django_db

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
TO = "+34 612 34 56 78"
WA_ID = "34612345678"


@pytest.fixture(autouse=True)
def at_t():
    with time_machine.travel(T, tick=False):
        yield


@pytest.fixture
def number():
    return BusinessNumberFactory(
        company=CompanyFactory(), display_phone_number="34910000001"
    )


@pytest.fixture
def agent(number):
    with time_machine.travel(T - timedelta(days=30), tick=False):
        return licensed_user(number.company, full_name="Luis Pérez")


@pytest.fixture
def template(number):
    return MessageTemplateFactory(
        company=number.company, category="marketing", body="Hi {{1}}, 20% off today."
    )


def api_client(user) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}"
    )
    return client


def start(api, **body):
    return api.post(reverse("api-conversation-list"), body, format="json")


def body_for(number, template, **extra):
    return {
        "from_number": number.pk,
        "to": TO,
        "template": template.pk,
        "params": ["Ana"],
        **extra,
    }


# --- the service ------------------------------------------------------------------


def test_a_first_template_to_a_new_number_creates_contact_and_conversation(
    number, agent, template
):
    # when
    started = conversation_start(
        sender=agent,
        business_number=number,
        to="0034 612-345-678",
        template=template,
        params=["Ana"],
        opt_in_confirmed=True,
    )
    # then
    contact = Contact.objects.get()
    assert (contact.wa_id, contact.country) == (WA_ID, "ES")
    assert started.contact_created and started.conversation_created
    assert started.message.body == "Hi Ana, 20% off today."
    assert started.message.conversation == started.conversation
    opt_in = ContactOptIn.objects.get()
    assert (opt_in.source, opt_in.recorded_by, opt_in.opted_in_at) == (
        ContactOptIn.Source.MANUAL,
        agent,
        T,
    )


def test_a_national_number_is_read_in_the_business_numbers_country(
    number, agent, template
):
    started = conversation_start(
        sender=agent,
        business_number=number,
        to="612 34 56 78",
        template=template,
        params=["Ana"],
        opt_in_confirmed=True,
    )
    assert started.conversation.contact.wa_id == WA_ID


def test_an_existing_contact_and_conversation_are_reused(number, agent, template):
    # given the contact wrote before, in another format of the same number
    conversation = ConversationFactory(
        business_number=number,
        contact=ContactFactory(company=number.company, wa_id=WA_ID),
    )
    # when
    started = conversation_start(
        sender=agent,
        business_number=number,
        to=TO,
        template=template,
        params=["Ana"],
    )
    # then
    assert started.conversation == conversation
    assert not started.contact_created and not started.conversation_created
    assert Contact.objects.count() == Conversation.objects.count() == 1


@pytest.mark.parametrize(
    "to,reason",
    [
        ("", "phone_empty"),
        ("call me", "phone_not_a_number"),
        ("+34 12", "phone_invalid"),
        ("+34 612 34", "phone_invalid"),
        ("+1 800 555 0100", "phone_unsupported"),  # toll-free
        ("+34 901 123 456", "phone_unsupported"),  # shared cost
        ("+800 1234 5678", "phone_unsupported"),  # non-geographic
    ],
)
def test_an_invalid_or_unsupported_number_is_refused_and_nothing_is_created(
    number, agent, template, to, reason
):
    with pytest.raises(InvalidPhoneNumber) as refused:
        conversation_start(
            sender=agent,
            business_number=number,
            to=to,
            template=template,
            params=["Ana"],
            opt_in_confirmed=True,
        )
    assert refused.value.context["reason"] == reason
    assert not Contact.objects.exists()
    assert not Message.objects.exists()


def test_a_refused_send_leaves_no_contact_conversation_or_opt_in(
    number, agent, template
):
    # given the agent lost the license (A4)
    license_revoke(company=number.company, users=[agent], actor=None)
    # when / then
    from licensing.exceptions import SenderNotLicensed

    with pytest.raises(SenderNotLicensed):
        conversation_start(
            sender=agent,
            business_number=number,
            to=TO,
            template=template,
            params=["Ana"],
            opt_in_confirmed=True,
        )
    assert not Contact.objects.exists()
    assert not Conversation.objects.exists()
    assert not ContactOptIn.objects.exists()


def test_without_opt_in_the_first_template_is_refused_and_nothing_is_created(
    number, agent, template
):
    with pytest.raises(OptInMissing):
        conversation_start(
            sender=agent,
            business_number=number,
            to=TO,
            template=template,
            params=["Ana"],
        )
    assert not Contact.objects.exists()


# --- the API ----------------------------------------------------------------------


def test_api_starts_a_conversation(number, agent, template):
    api = api_client(agent)
    response = start(api, **body_for(number, template, opt_in=True, name="Ana Gil"))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["contact_created"] is True
    assert data["conversation_created"] is True
    assert data["conversation"]["contact"]["wa_id"] == WA_ID
    assert data["conversation"]["contact"]["profile_name"] == "Ana Gil"
    assert data["conversation"]["window"]["is_open"] is False
    assert data["message"]["template"]["id"] == template.pk
    assert data["message"]["template_category"] == "marketing"
    assert data["message"]["status"] == "accepted"


def test_api_idempotency_key_replays_the_first_send(number, agent, template):
    api = api_client(agent)
    body = body_for(number, template, opt_in=True)
    first = start(api, **body, idempotency_key="k-1")
    # the same request, the number written another way: the same conversation
    again = api.post(
        reverse("api-conversation-list"),
        {**body, "to": "0034612345678"},
        format="json",
        headers={"Idempotency-Key": "k-1"},
    )
    assert first.status_code == again.status_code == 201
    assert again.json()["message"]["id"] == first.json()["message"]["id"]
    assert again.json()["conversation_created"] is False
    assert Message.objects.count() == 1


def test_api_same_key_for_another_number_is_refused_and_creates_nothing(
    number, agent, template
):
    api = api_client(agent)
    start(api, **body_for(number, template, opt_in=True), idempotency_key="k-2")
    response = start(
        api,
        **body_for(number, template, opt_in=True, to="+34 699 00 11 22"),
        idempotency_key="k-2",
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Contact.objects.count() == 1
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "to,code",
    [("+34 12", "invalid_phone_number"), ("+1 800 555 0100", "invalid_phone_number")],
)
def test_api_refuses_a_bad_number_with_422(number, agent, template, to, code):
    response = start(api_client(agent), **body_for(number, template, to=to))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert "number" in response.json()["error"]["message"]
    assert not Contact.objects.exists()


def test_api_refuses_without_opt_in_with_409(number, agent, template):
    response = start(api_client(agent), **body_for(number, template))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "opt_in_missing"
    assert not Contact.objects.exists()


def test_api_unlicensed_user_gets_403_and_nothing_is_created(number, template):
    user = UserFactory(company=number.company)
    response = start(api_client(user), **body_for(number, template, opt_in=True))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "sender_not_licensed"
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    "status,code",
    [
        ("paused", "template_paused"),
        ("disabled", "template_disabled"),
        ("rejected", "template_not_sendable"),
    ],
)
def test_api_refuses_a_template_that_is_not_approved(
    number, agent, template, status, code
):
    template.status = status
    template.save()
    response = start(api_client(agent), **body_for(number, template, opt_in=True))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert not Contact.objects.exists()


def test_api_another_companys_number_or_template_is_404(number, agent, template):
    other = BusinessNumberFactory()
    other_template = MessageTemplateFactory(company=other.company)
    api = api_client(agent)
    assert start(api, **body_for(other, template, opt_in=True)).status_code == 404
    assert (
        start(api, **body_for(number, other_template, opt_in=True)).status_code == 404
    )
    assert not Contact.objects.exists()


def test_api_schema_documents_the_start(client):
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()
    operation = schema["paths"]["/api/conversations/"]["post"]
    assert operation["summary"] == "Start a conversation"
    assert {"201", "403", "409", "422"} <= set(operation["responses"])
    body = schema["components"]["schemas"]["ConversationStart"]
    assert set(body["required"]) == {"from_number", "to", "template"}


# --- under concurrency (PostgreSQL) -----------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_to_one_number_make_one_contact_and_one_conversation():
    # given ten requests at once for the same new number, each its own key
    number = BusinessNumberFactory(display_phone_number="34910000002")
    agent = licensed_user(number.company)
    template = MessageTemplateFactory(company=number.company, body="Hi")
    barrier = threading.Barrier(10)
    outcomes, lock = [], threading.Lock()

    def race(i):
        try:
            barrier.wait()
            started = conversation_start(
                sender=agent,
                business_number=number,
                to=TO if i % 2 else "0034612345678",
                template=template,
                opt_in_confirmed=True,
                idempotency_key=f"race-{i % 5}",
            )
            result = started.message.pk
        except Exception as exc:  # noqa: BLE001 - reported below
            result = repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then: one contact, one conversation, one opt-in, one message per key
    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert Contact.objects.filter(company=number.company).count() == 1
    assert Conversation.objects.filter(company=number.company).count() == 1
    assert ContactOptIn.objects.filter(company=number.company).count() == 1
    assert Message.objects.filter(company=number.company).count() == 5
    assert len(set(outcomes)) == 5
