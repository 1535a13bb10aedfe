"""The JSON API: schema, reading conversations, sending through message_send."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
import yaml
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from messaging.models import Message
from messaging.transports import SandboxTransport, TransportError
from tests import whatsapp
from tests.factories import (
    BusinessNumberFactory,
    CompanyFactory,
    ConversationFactory,
    MessageTemplateFactory,
    UserFactory,
    licensed_user,
)

pytestmark = pytest.mark.django_db

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
KEY = "order-17-shipped"


@pytest.fixture(autouse=True)
def at_t():
    with time_machine.travel(T, tick=False):
        yield


@pytest.fixture
def number():
    return BusinessNumberFactory(company=CompanyFactory())


@pytest.fixture
def agent(number):
    with time_machine.travel(T - timedelta(days=30), tick=False):
        return licensed_user(number.company, full_name="Luis Pérez")


def api_client(user) -> APIClient:
    client = APIClient()
    token = Token.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(agent):
    return api_client(agent)


def conversation_with(number, *, last_inbound_at=None, last_message_at=None):
    return ConversationFactory(
        business_number=number,
        last_inbound_at=last_inbound_at,
        last_message_at=last_message_at or last_inbound_at or T,
    )


def post_message(client, data, **headers):
    with whatsapp.on_commit():
        return client.post(
            reverse("api-message-create"), data, format="json", **headers
        )


# --- schema and docs ------------------------------------------------------------


def test_the_schema_generates_without_warnings_and_validates(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/conversations/",
        "/api/conversations/{id}/",
        "/api/conversations/{conversation_id}/messages/",
        "/api/messages/",
        "/api/invoices/",
        "/api/invoices/{invoice_id}/",
        "/api/invoices/{invoice_id}/lines/{line_id}/charges/",
        "/api/invoices/{invoice_id}/free-messages/",
        "/api/credit-notes/",
        "/api/credit-notes/{credit_note_id}/",
        "/api/usage/",
    }
    for path, operations in schema["paths"].items():
        if not path.startswith(("/api/invoices/", "/api/credit-notes/", "/api/usage/")):
            continue
        for operation in operations.values():
            assert operation["tags"] == ["billing"]
            assert operation["summary"]
            assert {"200", "401", "403"} <= set(operation["responses"])
            assert "{" not in path or "404" in operation["responses"]
    responses = schema["paths"]["/api/messages/"]["post"]["responses"]
    assert {"201", "401", "403", "404", "409", "422", "502", "503"} <= set(responses)


def test_the_schema_endpoint_serves_openapi(client):
    response = client.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "WhatsApp add-on API"


def test_the_docs_page_lists_the_endpoints_without_external_assets(client):
    response = client.get(reverse("api-docs"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "/api/conversations/{conversation_id}/messages/" in html
    assert "Send a message" in html
    assert "cdn" not in html.lower()
    assert 'src="http' not in html
    assert 'href="http' not in html


# --- authentication -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        reverse("api-conversation-list"),
        reverse("api-conversation-detail", kwargs={"pk": 1}),
        reverse("api-conversation-messages", kwargs={"conversation_id": 1}),
    ],
)
def test_anonymous_requests_are_refused(url):
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_anonymous_sends_are_refused(number):
    conversation = conversation_with(number, last_inbound_at=T)
    response = post_message(APIClient(), {"conversation": conversation.pk, "text": "x"})
    assert response.status_code == 401
    assert not Message.objects.exists()


def test_a_wrong_token_is_refused():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get(reverse("api-conversation-list")).status_code == 401


def test_session_authentication_works(client, agent, number):
    conversation_with(number)
    client.force_login(agent)
    response = client.get(reverse("api-conversation-list"))
    assert response.status_code == 200
    assert response.json()["count"] == 1


# --- conversations ----------------------------------------------------------------------


def test_conversations_are_the_companys_newest_first_with_their_window(api, number):
    # given
    closed = conversation_with(number, last_inbound_at=T - timedelta(days=2))
    open_ = conversation_with(number, last_inbound_at=T - timedelta(hours=3))
    ConversationFactory(last_message_at=T)  # another company
    # when
    response = api.get(reverse("api-conversation-list"))
    # then
    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 2
    assert [c["id"] for c in body["results"]] == [open_.pk, closed.pk]
    assert body["results"][0]["window"] == {
        "is_open": True,
        "last_inbound_at": "2026-06-01T09:00:00Z",
        "closes_at": "2026-06-02T09:00:00Z",
    }
    assert body["results"][1]["window"]["is_open"] is False
    assert body["results"][1]["window"]["closes_at"] == "2026-05-31T12:00:00Z"
    assert body["results"][0]["contact"]["wa_id"] == open_.contact.wa_id
    assert body["results"][0]["business_number"]["id"] == number.pk


def test_a_conversation_that_never_had_inbound_has_no_window(api, number):
    conversation = conversation_with(number)
    response = api.get(
        reverse("api-conversation-detail", kwargs={"pk": conversation.pk})
    )
    assert response.json()["window"] == {
        "is_open": False,
        "last_inbound_at": None,
        "closes_at": None,
    }


def test_conversations_filter_by_window(api, number):
    open_ = conversation_with(number, last_inbound_at=T - timedelta(hours=3))
    conversation_with(number, last_inbound_at=T - timedelta(days=2))
    response = api.get(reverse("api-conversation-list"), {"window": "open"})
    assert [c["id"] for c in response.json()["results"]] == [open_.pk]


def test_the_conversation_list_query_count_does_not_grow_with_rows(
    api, number, django_assert_max_num_queries
):
    for hours in range(5):
        conversation_with(number, last_inbound_at=T - timedelta(hours=hours))
    with CaptureQueriesContext(connection) as five:
        assert api.get(reverse("api-conversation-list")).status_code == 200
    queries_for_five = len(five)
    for hours in range(35):
        conversation_with(number, last_inbound_at=T - timedelta(days=1, hours=hours))
    with django_assert_max_num_queries(queries_for_five):
        response = api.get(reverse("api-conversation-list"))
    assert len(response.json()["results"]) == 40


def test_another_companys_conversation_is_not_found(api):
    foreign = ConversationFactory()
    detail = api.get(reverse("api-conversation-detail", kwargs={"pk": foreign.pk}))
    messages = api.get(
        reverse("api-conversation-messages", kwargs={"conversation_id": foreign.pk})
    )
    assert detail.status_code == 404
    assert messages.status_code == 404


def test_messages_are_listed_oldest_first_and_paginated(
    api, agent, number, django_assert_max_num_queries
):
    # given
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=2))
    for i in range(55):
        Message.objects.create(
            company=number.company,
            conversation=conversation,
            direction="out",
            type="text",
            body=f"message {i:02d}",
            sender=agent,
            wamid=f"w{i}",
            provider_timestamp=T - timedelta(minutes=60 - i),
            status="delivered",
            delivered_at=T - timedelta(minutes=59 - i),
        )
    url = reverse(
        "api-conversation-messages", kwargs={"conversation_id": conversation.pk}
    )
    # when
    with django_assert_max_num_queries(4):
        first = api.get(url).json()
    second = api.get(url, {"page": 2}).json()
    # then
    assert first["count"] == 55
    assert [m["body"] for m in first["results"]][:2] == ["message 00", "message 01"]
    assert [m["body"] for m in second["results"]][-1] == "message 54"
    assert first["results"][0]["sender"] == {"id": agent.pk, "name": "Luis Pérez"}
    assert first["results"][0]["template"] is None
    assert first["results"][0]["template_category"] is None
    assert first["results"][0]["status"] == "delivered"


# --- sending ---------------------------------------------------------------------------


# Transactional: on-commit callbacks run when the send commits, as in production.
@pytest.mark.django_db(transaction=True)
def test_a_licensed_user_sends_text_in_an_open_window(api, agent, number):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    response = post_message(api, {"conversation": conversation.pk, "text": "Hi!"})
    assert response.status_code == 201
    body = response.json()
    message = Message.objects.get(direction="out")
    assert body["id"] == message.pk
    assert body["body"] == "Hi!"
    assert body["sender"]["id"] == agent.pk
    assert body["direction"] == "out"
    # The sandbox reported sent, delivered and read when the send committed,
    # before the response was written.
    assert body["status"] == "read"
    assert body["delivered_at"] == "2026-06-01T12:00:02Z"


def test_a_licensed_user_sends_a_template(api, number):
    conversation = conversation_with(number)
    template = MessageTemplateFactory(company=number.company, category="marketing")
    response = post_message(
        api,
        {
            "conversation": conversation.pk,
            "template": template.pk,
            "params": ["Ana", "A-17"],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["body"] == "Hello Ana, your order A-17 has shipped."
    assert body["template"]["id"] == template.pk
    assert body["template_category"] == "marketing"
    assert body["template_params"] == ["Ana", "A-17"]


def test_an_unlicensed_user_is_refused_and_nothing_is_recorded(number):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    reader = UserFactory(company=number.company)
    response = post_message(
        api_client(reader), {"conversation": conversation.pk, "text": "Hi"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "sender_not_licensed"
    assert "holds no WhatsApp license" in response.json()["error"]["message"]
    assert not Message.objects.exists()


def test_text_in_a_closed_window_is_a_conflict(api, number):
    conversation = conversation_with(
        number, last_inbound_at=datetime(2026, 5, 30, 8, 15, tzinfo=UTC)
    )
    response = post_message(api, {"conversation": conversation.pk, "text": "Hi"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "window_closed"
    assert "closed at 2026-05-31 08:15 UTC" in error["message"]
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "template_kwargs,params,code",
    [
        ({"status": "pending"}, ["Ana", "A-17"], "template_not_sendable"),
        ({}, ["Ana"], "template_not_sendable"),
    ],
)
def test_template_refusals_are_unprocessable(
    api, number, template_kwargs, params, code
):
    conversation = conversation_with(number)
    template = MessageTemplateFactory(company=number.company, **template_kwargs)
    response = post_message(
        api,
        {"conversation": conversation.pk, "template": template.pk, "params": params},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"text": ""},
        {"text": "Hi", "template": "TEMPLATE"},
    ],
)
def test_invalid_messages_are_unprocessable(api, number, data):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    template = MessageTemplateFactory(company=number.company, body="Hi")
    data = {k: (template.pk if v == "TEMPLATE" else v) for k, v in data.items()} | {
        "conversation": conversation.pk
    }
    response = post_message(api, data)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_message"


def test_params_without_a_template_are_a_bad_request(api, number):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    response = post_message(
        api, {"conversation": conversation.pk, "text": "Hi", "params": ["x"]}
    )
    assert response.status_code == 400
    assert "params" in response.json()


def test_another_companys_conversation_or_template_is_not_found(api, number):
    foreign_conversation = ConversationFactory(last_inbound_at=T)
    foreign_template = MessageTemplateFactory(body="Hi")
    mine = conversation_with(number)
    assert (
        post_message(
            api, {"conversation": foreign_conversation.pk, "text": "Hi"}
        ).status_code
        == 404
    )
    assert (
        post_message(
            api, {"conversation": mine.pk, "template": foreign_template.pk}
        ).status_code
        == 404
    )
    assert not Message.objects.exists()


@pytest.fixture
def transport_calls(monkeypatch):
    calls = []
    real = SandboxTransport.send
    monkeypatch.setattr(
        SandboxTransport, "send", lambda self, **kw: calls.append(1) or real(self, **kw)
    )
    return calls


def test_the_idempotency_key_header_sends_once(api, number, transport_calls):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    data = {"conversation": conversation.pk, "text": "Once"}
    first = post_message(api, data, HTTP_IDEMPOTENCY_KEY=KEY)
    again = post_message(api, data, HTTP_IDEMPOTENCY_KEY=KEY)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert len(transport_calls) == 1
    assert Message.objects.get().idempotency_key == KEY


def test_the_idempotency_key_in_the_body_sends_once(api, number, transport_calls):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    data = {"conversation": conversation.pk, "text": "Once", "idempotency_key": KEY}
    post_message(api, data)
    post_message(api, data, HTTP_IDEMPOTENCY_KEY=KEY)
    assert len(transport_calls) == 1


def test_different_keys_in_body_and_header_are_a_bad_request(api, number):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    response = post_message(
        api,
        {"conversation": conversation.pk, "text": "Hi", "idempotency_key": "a"},
        HTTP_IDEMPOTENCY_KEY="b",
    )
    assert response.status_code == 400
    assert not Message.objects.exists()


@pytest.mark.parametrize("transient,status", [(True, 503), (False, 502)])
def test_provider_errors_are_gateway_errors(
    api, number, monkeypatch, transient, status
):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))

    def refuse(self, **kw):
        raise TransportError(
            "The provider refused.", provider_code=131000, transient=transient
        )

    monkeypatch.setattr(SandboxTransport, "send", refuse)
    response = post_message(api, {"conversation": conversation.pk, "text": "Hi"})
    assert response.status_code == status
    assert response.json() == {
        "error": {"code": "transport_error", "message": "The provider refused."}
    }
    assert not Message.objects.exists()


# --- Idempotency-Key: scoped to the user, bound to the request (as Stripe) ------


def test_a_reused_idempotency_key_with_another_body_is_refused(
    api, number, transport_calls
):
    # given
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    first = post_message(
        api, {"conversation": conversation.pk, "text": "Once"}, HTTP_IDEMPOTENCY_KEY=KEY
    )
    # when: the same key, another text
    again = post_message(
        api,
        {"conversation": conversation.pk, "text": "Something else"},
        HTTP_IDEMPOTENCY_KEY=KEY,
    )
    # then: 422 naming the key, nothing sent, the first message kept as it was
    assert (first.status_code, again.status_code) == (201, 422)
    assert again.json()["error"]["code"] == "idempotency_key_reused"
    assert KEY in again.json()["error"]["message"]
    assert len(transport_calls) == 1
    assert list(Message.objects.values_list("body", flat=True)) == ["Once"]


def test_an_unlicensed_user_replaying_a_licensed_users_key_is_refused(
    api, number, transport_calls
):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    data = {"conversation": conversation.pk, "text": "Once"}
    assert post_message(api, data, HTTP_IDEMPOTENCY_KEY=KEY).status_code == 201
    reader = UserFactory(company=number.company)
    response = post_message(api_client(reader), data, HTTP_IDEMPOTENCY_KEY=KEY)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "sender_not_licensed"
    assert len(transport_calls) == 1


def test_idempotency_keys_are_each_users_own(api, number, transport_calls):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    data = {"conversation": conversation.pk, "text": "Hello"}
    with time_machine.travel(T - timedelta(days=30), tick=False):
        colleague = licensed_user(number.company, full_name="Ana Ruiz")
    first = post_message(api, data, HTTP_IDEMPOTENCY_KEY=KEY)
    second = post_message(api_client(colleague), data, HTTP_IDEMPOTENCY_KEY=KEY)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert len(transport_calls) == 2


def test_a_replay_checks_the_license_before_answering(
    api, agent, number, transport_calls
):
    from licensing.services import license_revoke

    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    data = {"conversation": conversation.pk, "text": "Once"}
    assert post_message(api, data, HTTP_IDEMPOTENCY_KEY=KEY).status_code == 201
    license_revoke(company=number.company, users=[agent], actor=None)
    response = post_message(api, data, HTTP_IDEMPOTENCY_KEY=KEY)
    assert response.status_code == 403
    assert len(transport_calls) == 1
