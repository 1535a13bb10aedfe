"""The webhook endpoint: handshake, signatures, malformed bodies, every sample."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from messaging.models import Message, MessageStatusEvent, WebhookDelivery
from messaging.services import delivery_reprocess, intake
from tests import whatsapp
from tests.factories import (
    BusinessNumberFactory,
    ConversationFactory,
)

pytestmark = pytest.mark.django_db

SAMPLES_INBOUND = [
    "inbound_text__meta_docs.json",
    "inbound_text_ctwa_referral__meta_docs.json",
    "inbound_text_referral__pywa_tests.json",
]
SAMPLES_STATUS = [
    "status_delivered_pmp_marketing_regular_bsuid__meta_docs.json",
    "status_failed_131047__zammad_spec.json",
    "status_failed_131049__meta_docs.json",
    "status_sent_pmp_marketing_regular__meta_docs.json",
    "status_v24_without_conversation_or_pricing__meta_docs.json",
]


def _number_for(sample: dict):
    pnid = sample["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
    return BusinessNumberFactory(phone_number_id=pnid)


# --- handshake ---------------------------------------------------------------


def test_handshake_echoes_the_challenge_with_the_right_token(client, settings):
    settings.WHATSAPP_VERIFY_TOKEN = "s3cret-token"
    response = client.get(
        reverse("whatsapp-webhook"),
        {
            "hub.mode": "subscribe",
            "hub.verify_token": "s3cret-token",
            "hub.challenge": "1158201444",
        },
    )
    assert response.status_code == 200
    assert response.content == b"1158201444"


@pytest.mark.parametrize("token", ["wrong", ""])
def test_handshake_refuses_a_wrong_token(client, settings, token):
    settings.WHATSAPP_VERIFY_TOKEN = "s3cret-token"
    response = client.get(
        reverse("whatsapp-webhook"),
        {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "42"},
    )
    assert response.status_code == 403


# --- signatures and malformed bodies ----------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=", "sha256=" + "0" * 64, "md5=abc", "deadbeef"],
)
def test_missing_or_wrong_signature_is_403_and_stores_nothing(client, signature):
    sample = whatsapp.fixture("inbound_text__meta_docs.json")
    _number_for(sample)
    response = whatsapp.post(client, sample, signature=signature)
    assert response.status_code == 403
    assert not WebhookDelivery.objects.exists()
    assert not Message.objects.exists()


def test_signature_made_with_another_secret_is_403(client):
    body = json.dumps(whatsapp.fixture("inbound_text__meta_docs.json")).encode()
    response = whatsapp.post(
        client, body, signature=whatsapp.sign(body, "other-secret")
    )
    assert response.status_code == 403
    assert not WebhookDelivery.objects.exists()


def test_tampered_body_is_403(client):
    body = json.dumps(whatsapp.fixture("inbound_text__meta_docs.json")).encode()
    signature = whatsapp.sign(body)
    response = whatsapp.post(
        client, body.replace(b"color", b"colour"), signature=signature
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[]",
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": "x"}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": '
        b'"messages", "value": {"metadata": {"phone_number_id": 5}}}]}]}',
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_malformed_body_is_400_and_stores_nothing(client, body):
    response = whatsapp.post(client, body)
    assert response.status_code == 400
    assert "error" in response.json()
    assert not WebhookDelivery.objects.exists()


def test_a_body_over_3_mb_is_413(client):
    body = b'{"pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    response = whatsapp.post(client, body)
    assert response.status_code == 413
    assert not WebhookDelivery.objects.exists()


# --- every sample ---------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES_INBOUND)
def test_every_inbound_sample_is_recorded(client, name):
    sample = whatsapp.fixture(name)
    number = _number_for(sample)
    response = whatsapp.post(client, sample)
    assert response.status_code == 200
    raw = sample["entry"][0]["changes"][0]["value"]["messages"][0]
    message = Message.objects.get(wamid=raw["id"])
    assert message.direction == Message.Direction.INBOUND
    assert message.body == raw["text"]["body"]
    assert message.provider_timestamp == datetime.fromtimestamp(
        int(raw["timestamp"]), UTC
    )
    assert message.conversation.business_number == number
    assert message.conversation.last_inbound_at == message.provider_timestamp
    assert message.referral == raw.get("referral")
    assert message.conversation.contact.profile_name
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PROCESSED


@pytest.mark.parametrize("name", SAMPLES_STATUS)
def test_every_status_sample_is_kept_even_before_its_message_is_known(client, name):
    sample = whatsapp.fixture(name)
    _number_for(sample)
    response = whatsapp.post(client, sample)
    assert response.status_code == 200
    raw = sample["entry"][0]["changes"][0]["value"]["statuses"][0]
    event = MessageStatusEvent.objects.get(wamid=raw["id"])
    assert (event.status, event.message) == (raw["status"], None)
    assert event.pricing == raw.get("pricing")
    if raw.get("errors"):
        assert event.error_code == raw["errors"][0]["code"]
    assert WebhookDelivery.objects.get().result["unknown_wamids"] == 1


def test_pricing_fragments_are_kept_on_the_message(client):
    fragments = whatsapp.fixture("pricing_object_fragments__meta_pricing_doc.json")
    number = BusinessNumberFactory()
    conv = ConversationFactory(business_number=number)
    at = datetime(2026, 5, 1, 12, tzinfo=UTC)
    for i, key in enumerate(
        ["free_non_template_in_csw", "free_utility_template_in_csw", "billable"]
    ):
        Message.objects.create(
            company=number.company,
            conversation=conv,
            direction="out",
            type="text",
            wamid=f"wamid.P{i}",
            provider_timestamp=at,
            status="accepted",
        )
        whatsapp.post(
            client,
            whatsapp.status_payload(
                phone_number_id=number.phone_number_id,
                items=[
                    whatsapp.status_item(
                        wamid=f"wamid.P{i}",
                        status="delivered",
                        at=at,
                        pricing=fragments[key],
                    )
                ],
            ),
        )
        assert Message.objects.get(wamid=f"wamid.P{i}").pricing == fragments[key]


@pytest.mark.parametrize(
    "kind,payload,summary",
    [
        (
            "image",
            {"image": {"caption": "Invoice", "mime_type": "image/jpeg", "id": "1"}},
            "📷 Photo: Invoice",
        ),
        ("audio", {"audio": {"id": "2", "mime_type": "audio/ogg"}}, "🎤 Audio"),
        ("video", {"video": {"id": "3"}}, "🎬 Video"),
        (
            "document",
            {"document": {"filename": "quote.pdf", "id": "4"}},
            "📄 Document: quote.pdf",
        ),
        (
            "location",
            {"location": {"latitude": 40.4, "longitude": -3.7, "name": "Office"}},
            "📍 Location: Office (40.4, -3.7)",
        ),
        (
            "contacts",
            {"contacts": [{"name": {"formatted_name": "Ana"}}]},
            "👤 Contact card: Ana",
        ),
        (
            "interactive",
            {
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": "y", "title": "Yes"},
                }
            },
            "↩ Replied: Yes",
        ),
        (
            "interactive",
            {
                "interactive": {
                    "type": "list_reply",
                    "list_reply": {"id": "1", "title": "Size M"},
                }
            },
            "↩ Replied: Size M",
        ),
        (
            "button",
            {"button": {"text": "Stop promotions", "payload": "stop"}},
            "↩ Button: Stop promotions",
        ),
        (
            "reaction",
            {"reaction": {"message_id": "wamid.X", "emoji": "👍"}},
            "Reacted 👍",
        ),
        (
            "unsupported",
            {"errors": [{"code": 131051, "title": "Message type unknown"}]},
            "Unsupported message (unsupported): Message type unknown",
        ),
        ("brand_new_type", {}, "Unsupported message (brand_new_type)"),
    ],
)
def test_inbound_messages_of_every_type_are_recorded_with_a_summary(
    client, kind, payload, summary
):
    number = BusinessNumberFactory()
    at = datetime(2026, 5, 1, 12, tzinfo=UTC)
    whatsapp.post(
        client,
        whatsapp.inbound_payload(
            phone_number_id=number.phone_number_id,
            wa_id="34611111111",
            wamid="wamid.T1",
            at=at,
            message={"type": kind, **payload},
        ),
    )
    message = Message.objects.get(wamid="wamid.T1")
    assert (message.type, message.body) == (kind, summary)
    assert message.conversation.last_inbound_at == at


# --- duplicates, unknown numbers, reprocessing -------------------------------------------


def test_a_replayed_delivery_is_stored_and_processed_once(client):
    sample = whatsapp.fixture("inbound_text__meta_docs.json")
    _number_for(sample)
    first = whatsapp.post(client, sample)
    second = whatsapp.post(client, sample)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["duplicate"] is True
    assert WebhookDelivery.objects.count() == 1
    assert Message.objects.count() == 1


def test_the_same_message_in_two_different_deliveries_is_stored_once(client):
    number = BusinessNumberFactory()
    at = datetime(2026, 5, 1, 12, tzinfo=UTC)
    payload = whatsapp.inbound_payload(
        phone_number_id=number.phone_number_id,
        wa_id="34611111111",
        wamid="wamid.D",
        at=at,
    )
    whatsapp.post(client, payload)
    payload["entry"][0]["id"] = "another-entry-id"  # different bytes, same message
    whatsapp.post(client, payload)
    assert WebhookDelivery.objects.count() == 2
    assert Message.objects.filter(wamid="wamid.D").count() == 1


def test_unknown_phone_number_id_is_kept_flagged_and_can_be_reprocessed(client):
    sample = whatsapp.fixture("inbound_text__meta_docs.json")
    response = whatsapp.post(client, sample)
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.UNMATCHED
    assert delivery.result["unknown_phone_number_ids"] == ["106540352242922"]
    assert not Message.objects.exists()
    # Customer Success adds the number, then reprocesses
    _number_for(sample)
    delivery = delivery_reprocess(delivery=delivery)
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert Message.objects.count() == 1


def test_a_delivery_holding_many_entries_changes_and_updates_is_processed_whole(client):
    numbers = BusinessNumberFactory.create_batch(2)
    at = datetime(2026, 5, 1, 12, tzinfo=UTC)
    payload = {"object": "whatsapp_business_account", "entry": []}
    for n, number in enumerate(numbers):
        changes = []
        for c in range(2):
            value = whatsapp.inbound_payload(
                phone_number_id=number.phone_number_id,
                wa_id=f"3460000{n}{c}00",
                wamid="unused",
                at=at,
            )["entry"][0]["changes"][0]["value"]
            value["messages"] = [
                {
                    "from": f"3460000{n}{c}00",
                    "id": f"wamid.{n}.{c}.{i}",
                    "timestamp": str(int((at + timedelta(seconds=i)).timestamp())),
                    "type": "text",
                    "text": {"body": str(i)},
                }
                for i in range(250)
            ]
            changes.append({"field": "messages", "value": value})
        payload["entry"].append({"id": str(n), "changes": changes})
    response = whatsapp.post(client, payload)
    assert response.status_code == 200
    assert Message.objects.count() == 1000
    assert WebhookDelivery.objects.get().result["messages"] == 1000


def test_admin_shows_deliveries_and_reprocesses_one(cs_client):
    sample = whatsapp.fixture("inbound_text__meta_docs.json")
    whatsapp.post(cs_client, sample)
    delivery = WebhookDelivery.objects.get()
    page = cs_client.get(reverse("admin:messaging_webhookdelivery_changelist"))
    assert "unknown numbers: 106540352242922" in page.content.decode()
    detail = cs_client.get(
        reverse("admin:messaging_webhookdelivery_change", args=[delivery.pk])
    )
    assert "Does it come in another color?" in detail.content.decode()
    _number_for(sample)
    cs_client.post(
        reverse("admin:messaging_webhookdelivery_changelist"),
        {"action": "reprocess", "_selected_action": [delivery.pk]},
    )
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PROCESSED


@pytest.mark.parametrize(
    "wa_id,country", [("34600111222", "ES"), ("80012345678", ""), ("99912345678", "")]
)
def test_contacts_get_their_country_or_none_for_non_geographic_numbers(
    client, wa_id, country
):
    number = BusinessNumberFactory()
    at = datetime(2026, 5, 1, 12, tzinfo=UTC)
    response = whatsapp.post(
        client,
        whatsapp.inbound_payload(
            phone_number_id=number.phone_number_id,
            wa_id=wa_id,
            wamid=f"wamid.{wa_id}",
            at=at,
        ),
    )
    assert response.status_code == 200
    assert (
        Message.objects.get(wamid=f"wamid.{wa_id}").conversation.contact.country
        == country
    )


def test_a_database_error_before_storing_answers_503_so_the_provider_retries(
    client, monkeypatch
):
    from django.db import OperationalError

    sample = whatsapp.fixture("inbound_text__meta_docs.json")
    _number_for(sample)

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(intake, "_delivery_store", down)
    response = whatsapp.post(client, sample)
    assert (response.status_code, response["Retry-After"]) == (503, "30")
    monkeypatch.undo()
    assert not WebhookDelivery.objects.exists()
    # the provider's retry of the same body is stored and processed once
    assert whatsapp.post(client, sample).status_code == 200
    assert Message.objects.count() == 1


def test_a_stored_delivery_whose_processing_fails_is_kept_and_retried(
    client, monkeypatch
):
    import time_machine
    from django.db import OperationalError

    from messaging import services
    from messaging.tasks import deliveries_retry_task

    sample = whatsapp.fixture("inbound_text__meta_docs.json")
    _number_for(sample)
    real = services.delivery_process

    def down(**kwargs):
        WebhookDelivery.objects.filter(pk=kwargs["delivery_id"]).update(
            status=WebhookDelivery.Status.FAILED, attempts=1
        )
        raise OperationalError("connection lost mid-way")

    monkeypatch.setattr(services, "delivery_process", down)
    assert whatsapp.post(client, sample).status_code == 200  # accepted: it is stored
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert not Message.objects.exists()
    monkeypatch.setattr(services, "delivery_process", real)
    with (
        time_machine.travel(delivery.received_at + timedelta(minutes=3)),
        whatsapp.on_commit(),
    ):
        assert deliveries_retry_task.delay().get() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert Message.objects.count() == 1
