"""The sandbox provider: realistic status webhooks for locally accepted messages.

They are signed with the app secret and go through ``webhook_receive``, the
same path as the provider's real POSTs, so the demo shows the whole lifecycle.
"""

import json
from datetime import datetime, timedelta

from django.conf import settings

from . import rules
from .models import Message
from .selectors import entry_point_open, last_inbound_at
from .webhooks import signature_for

# Recipients whose number ends like this fail with 131026 (undeliverable).
UNDELIVERABLE_SUFFIX = "0000"
SENT_AFTER = timedelta(seconds=1)
DELIVERED_AFTER = timedelta(seconds=2)
READ_AFTER = timedelta(seconds=30)


def _pricing(message: Message, delivered_at) -> dict:
    """Mimic the provider's per-message pricing object (PMP), free entry points
    (an answer to a click-to-WhatsApp ad) included."""
    category = message.template_category or "service"
    if entry_point_open(conversation=message.conversation, at=delivered_at):
        return {
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_entry_point",
            "category": category,
        }
    in_window = rules.window_is_open(
        last_inbound_at=last_inbound_at(
            conversation=message.conversation, at=delivered_at
        ),
        at=delivered_at,
    )
    free = category == "service" or (category == "utility" and in_window)
    return {
        "billable": not free,
        "pricing_model": "PMP",
        "type": "free_customer_service" if free else "regular",
        "category": category,
    }


def status_payload(message: Message) -> dict:
    """Build the status webhook body the provider would send for ``message``."""
    number = message.conversation.business_number
    to = message.conversation.contact.wa_id
    base = message.provider_timestamp
    if to.endswith(UNDELIVERABLE_SUFFIX):
        steps = [("failed", SENT_AFTER)]
    else:
        steps = [
            ("sent", SENT_AFTER),
            ("delivered", DELIVERED_AFTER),
            ("read", READ_AFTER),
        ]
    statuses = []
    for status, offset in steps:
        item = {
            "id": message.wamid,
            "status": status,
            "timestamp": str(int((base + offset).timestamp())),
            "recipient_id": to,
        }
        if status == "failed":
            item["errors"] = [
                {
                    "code": 131026,
                    "title": "Message undeliverable",
                    "message": "Message undeliverable",
                    "error_data": {"details": "Unable to deliver message."},
                }
            ]
        else:
            item["pricing"] = _pricing(message, base + DELIVERED_AFTER)
        statuses.append(item)
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": number.waba_id or "sandbox-waba",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": number.display_phone_number,
                                "phone_number_id": number.phone_number_id,
                            },
                            "statuses": statuses,
                        },
                    }
                ],
            }
        ],
    }


def signed_body(payload: dict) -> tuple[bytes, str]:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return body, signature_for(body=body, secret=settings.WHATSAPP_APP_SECRET)


def sandbox_statuses_emit(*, message_id: int) -> None:
    """Send the sandbox status webhook of one message through the real intake."""
    from .services import webhook_receive

    message = Message.objects.select_related(
        "conversation__business_number", "conversation__contact"
    ).get(pk=message_id)
    body, signature = signed_body(status_payload(message))
    webhook_receive(body=body, signature=signature)


def sandbox_statuses_pending(
    *,
    at: datetime,
    older_than: timedelta = timedelta(minutes=2),
    within: timedelta = timedelta(days=1),
) -> list[int]:
    """Outbound messages sent through the sandbox (``older_than`` ago, at most
    ``within``) that still have no status: their emission was lost (the broker
    was down when they were sent). Empty unless the sandbox emits statuses."""
    if not (
        settings.WHATSAPP_TRANSPORT == "sandbox"
        and settings.WHATSAPP_SANDBOX_EMIT_STATUSES
    ):
        return []
    return list(
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.ACCEPTED,
            provider_timestamp__lt=at - older_than,
            provider_timestamp__gte=at - within,
        )
        .order_by("provider_timestamp")
        .values_list("pk", flat=True)[:500]
    )
