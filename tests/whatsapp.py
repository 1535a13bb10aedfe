"""Build and post signed WhatsApp webhook payloads through the real endpoint."""

import json
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.test import TestCase
from django.urls import reverse

from messaging.webhooks import signature_for

FIXTURES = Path(__file__).parent / "fixtures" / "whatsapp"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def envelope(*, phone_number_id: str, display: str = "15550783881", **value) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": display,
                                "phone_number_id": phone_number_id,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def inbound_payload(
    *,
    phone_number_id: str,
    wa_id: str,
    wamid: str,
    at: datetime,
    text: str = "Hi",
    name: str = "Customer",
    message: dict | None = None,
) -> dict:
    msg = message or {"type": "text", "text": {"body": text}}
    return envelope(
        phone_number_id=phone_number_id,
        contacts=[{"profile": {"name": name}, "wa_id": wa_id}],
        messages=[
            {"from": wa_id, "id": wamid, "timestamp": str(int(at.timestamp())), **msg}
        ],
    )


def status_item(
    *,
    wamid: str,
    status: str,
    at: datetime,
    recipient: str = "34600000000",
    pricing: dict | None = None,
    errors: list | None = None,
) -> dict:
    item = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(at.timestamp())),
        "recipient_id": recipient,
    }
    if pricing:
        item["pricing"] = pricing
    if errors:
        item["errors"] = errors
    return item


def status_payload(*, phone_number_id: str, items: list[dict]) -> dict:
    return envelope(phone_number_id=phone_number_id, statuses=items)


def sign(body: bytes, secret: str | None = None) -> str:
    return signature_for(body=body, secret=secret or settings.WHATSAPP_APP_SECRET)


def post(client, payload: dict | bytes, *, signature: str | None = "auto", **extra):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {}
    if signature == "auto":
        signature = sign(body)
    if signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    # Processing runs on commit (a Celery task, eager in tests); run it here.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            reverse("whatsapp-webhook"),
            data=body,
            content_type="application/json",
            **headers,
            **extra,
        )


def on_commit():
    """Run the on-commit callbacks (tasks) of the wrapped block, as a real commit would."""
    return TestCase.captureOnCommitCallbacks(execute=True)
