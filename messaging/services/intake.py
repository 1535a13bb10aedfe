"""Webhook intake: verify, decode and store a POST, process the stored delivery
(inbound messages and statuses), retry what failed, log dead letters.

Every webhook (real or sandbox) goes through ``webhook_receive``.
"""

import functools
import hashlib
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .. import rules
from ..exceptions import InvalidSignature, MalformedPayload, PayloadError
from ..locks import delivery_lock
from ..models import BusinessNumber, WebhookDelivery
from ..webhooks import parse_payload, signature_is_valid
from .inbound import inbound_messages_record
from .statuses import status_orphans_link, status_updates_record
from .template_events import template_events_record

logger = logging.getLogger(__name__)


def _decode(body: bytes) -> tuple[str, object]:
    """Decode a webhook body once, strictly: UTF-8 text (no byte order mark, no
    UTF-16/32, no encoded surrogates), then JSON of that very text. What this
    accepts is exactly what ``delivery_process`` later reads from the stored
    text, so an accepted body can always be processed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPayload("The body is not UTF-8 text.") from exc
    if text.startswith("\ufeff"):
        raise MalformedPayload(
            "The body starts with a byte order mark; send UTF-8 JSON without one."
        )
    return text, _json_load(text)


def _json_load(text: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise MalformedPayload("The body is not valid JSON.") from exc


def webhook_receive(
    *, body: bytes, signature: str | None
) -> tuple[WebhookDelivery, bool]:
    """Verify, validate and store one webhook POST, then process it after commit.

    Raises InvalidSignature or MalformedPayload and stores nothing when the body
    is not a correctly signed WhatsApp payload. A repeated body (provider retry)
    is stored once; it is processed again only if its processing failed.
    """
    if not signature_is_valid(
        body=body, header=signature, secret=settings.WHATSAPP_APP_SECRET
    ):
        raise InvalidSignature("Missing or wrong X-Hub-Signature-256.")
    text, data = _decode(body)
    try:
        parse_payload(data)
    except PayloadError as exc:
        raise MalformedPayload(f"Not a WhatsApp webhook payload: {exc}.") from exc
    digest = hashlib.sha256(body).hexdigest()
    with transaction.atomic():
        delivery, created = WebhookDelivery.objects.get_or_create(
            body_sha256=digest, defaults={"body": text}
        )
        if created or delivery.status in (
            WebhookDelivery.Status.RECEIVED,
            WebhookDelivery.Status.FAILED,
        ):
            pk = delivery.pk
            transaction.on_commit(lambda: _delivery_process_enqueue(pk))
    return delivery, created


def _delivery_process_enqueue(delivery_id: int) -> None:
    """Hand a stored delivery to the worker. Once stored it is accepted: a failure
    to process (or to enqueue) is recorded and retried, never answered as an
    error to the provider (deliveries_retry picks it up)."""
    from ..tasks import delivery_process_task

    try:
        delivery_process_task.delay(delivery_id)
    except Exception as exc:
        # Recorded on the delivery (received or failed): the beat retries it,
        # and the attempt that makes it a dead letter is logged at ERROR.
        logger.warning(
            "Delivery %s stored; processing will be retried (%s)",
            delivery_id,
            type(exc).__name__,
            exc_info=True,
        )


def deliveries_retry(*, older_than: timedelta, max_attempts: int) -> list[int]:
    """Process again the deliveries left received or failed (a lost task, a
    database error mid-way). Returns their ids."""
    cutoff = timezone.now() - older_than
    ids = list(
        WebhookDelivery.objects.filter(
            status__in=[WebhookDelivery.Status.RECEIVED, WebhookDelivery.Status.FAILED],
            received_at__lt=cutoff,
            attempts__lt=max_attempts,
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:500]
    )
    for delivery_id in ids:
        _delivery_process_enqueue(delivery_id)
    return ids


def delivery_process(*, delivery_id: int) -> WebhookDelivery:
    """Record every message and status of a stored delivery; safe to re-run."""
    try:
        with transaction.atomic():
            delivery = delivery_lock(delivery_id)
            parsed = parse_payload(_json_load(delivery.body))
            ids = {c.phone_number_id for c in parsed.changes}
            numbers = {
                n.phone_number_id: n
                for n in BusinessNumber.objects.filter(phone_number_id__in=ids)
            }
            unknown: set[str] = set()
            counts = {"messages": 0, "statuses": 0}
            orphans: dict[int, set[str]] = {}
            for change in parsed.changes:
                number = numbers.get(change.phone_number_id)
                if number is None:
                    unknown.add(change.phone_number_id)
                    continue
                counts["messages"] += inbound_messages_record(
                    number=number, change=change
                )
                counts["statuses"] += len(change.statuses)
                orphans.setdefault(number.company_id, set()).update(
                    status_updates_record(
                        number=number, statuses=change.statuses, delivery=delivery
                    )
                )
            delivery.result = {
                **counts,
                "unknown_phone_number_ids": sorted(unknown),
                "ignored_fields": parsed.ignored_fields,
                "unknown_wamids": sum(len(w) for w in orphans.values()),
            }
            if parsed.template_updates:
                delivery.result["templates"] = template_events_record(
                    updates=parsed.template_updates, delivery=delivery
                )
            delivery.status = (
                WebhookDelivery.Status.UNMATCHED
                if unknown
                else WebhookDelivery.Status.PROCESSED
            )
            delivery.processed_at = timezone.now()
            delivery.attempts = F("attempts") + 1
            delivery.error = ""
            delivery.save()
            for company_id, wamids in sorted(orphans.items()):
                if not wamids:
                    continue
                transaction.on_commit(
                    functools.partial(
                        status_orphans_link,
                        company_id=company_id,
                        wamids=sorted(wamids),
                    )
                )
    except Exception as exc:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            attempts=F("attempts") + 1,
        )
        _dead_letter_log(delivery_id, exc)
        raise
    delivery.refresh_from_db()
    return delivery


def _dead_letter_log(delivery_id: int, exc: Exception) -> None:
    """Log at ERROR, once, the failure that makes a delivery a dead letter (no
    longer retried by the beat). Only its id and the error type: the error text
    may quote the body."""
    attempts = (
        WebhookDelivery.objects.filter(pk=delivery_id)
        .values_list("attempts", flat=True)
        .first()
    )
    if attempts is None:
        return
    limit = settings.WHATSAPP_WEBHOOK_MAX_ATTEMPTS
    failed = WebhookDelivery.Status.FAILED
    if rules.delivery_is_dead(
        status=failed, attempts=attempts, max_attempts=limit
    ) and not rules.delivery_is_dead(
        status=failed, attempts=attempts - 1, max_attempts=limit
    ):
        logger.error(
            "Webhook delivery %s failed %d times (%s): no longer retried; "
            "reprocess it from the admin's dead letters once the cause is fixed",
            delivery_id,
            attempts,
            type(exc).__name__,
        )


def delivery_reprocess(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Process a stored delivery again (e.g. after adding its business number)."""
    return delivery_process(delivery_id=delivery.pk)
