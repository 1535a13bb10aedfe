"""The running server speaks the webhook over real HTTP, as the provider sees it."""

import json

import pytest
import requests

from messaging.models import Message, WebhookDelivery
from tests import whatsapp
from tests.factories import BusinessNumberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_running_server_handshake_rejects_bad_signature_and_records_a_signed_sample(
    live_server, settings
):
    settings.WHATSAPP_APP_SECRET = "live-secret"
    settings.WHATSAPP_VERIFY_TOKEN = "live-token"
    url = f"{live_server.url}/webhooks/whatsapp/"
    handshake = requests.get(
        url,
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": "live-token",
            "hub.challenge": "8472",
        },
        timeout=10,
    )
    assert (handshake.status_code, handshake.text) == (200, "8472")
    assert (
        requests.get(
            url,
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": "nope",
                "hub.challenge": "1",
            },
            timeout=10,
        ).status_code
        == 403
    )

    sample = whatsapp.fixture("inbound_text__meta_docs.json")
    BusinessNumberFactory(phone_number_id="106540352242922")
    body = json.dumps(sample).encode()
    bad = requests.post(
        url,
        data=body,
        timeout=10,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": whatsapp.sign(body, "demo-app-secret"),
        },
    )
    assert bad.status_code == 403
    assert not WebhookDelivery.objects.exists()
    good = requests.post(
        url,
        data=body,
        timeout=10,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": whatsapp.sign(body, "live-secret"),
        },
    )
    assert good.status_code == 200
    assert Message.objects.get().body == "Does it come in another color?"
