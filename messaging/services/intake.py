"""Webhook intake: verify, decode and store a POST, process the stored delivery
(inbound messages and statuses), retry what failed, log dead letters.

Every webhook (real or sandbox) goes through ``webhook_receive``.
"""

import functools
import hashlib
import json
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from .. import rules
from ..exceptions import InvalidSignature, MalformedPayload, PayloadError
from ..locks import deliveries_claim, delivery_lock
from ..models import BusinessNumber, WebhookDelivery
from ..webhooks import ParsedPayload, parse_payload, signature_is_valid
from .inbound import inbound_messages_record
from .statuses import status_batches_record, status_orphans_link
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


def _stored_parse(text: str) -> ParsedPayload:
    """Parse a stored delivery's body (its text spares the storability walk)."""
    return parse_payload(_json_load(text), text=text)


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
        parse_payload(data, text=text)
    except PayloadError as exc:
        raise MalformedPayload(f"Not a WhatsApp webhook payload: {exc}.") from exc
    digest = hashlib.sha256(body).hexdigest()
    delivery, created = _delivery_store(text=text, digest=digest)
    if created or delivery.status in _PENDING:
        pk = delivery.pk
        transaction.on_commit(lambda: _delivery_process_enqueue(pk))
    return delivery, created


_PENDING = (WebhookDelivery.Status.RECEIVED, WebhookDelivery.Status.FAILED)
# Set while a worker is asked to process the waiting deliveries: the POSTs in
# between enqueue nothing (see _delivery_process_enqueue).
_WAKE_KEY = "messaging:deliveries-wake"
_WAKE_SECONDS = 30
# time.monotonic() before which this process takes the flag as up without asking
# Redis (WHATSAPP_WEBHOOK_WAKE_MEMO_SECONDS after it last saw it up).
_wake_up_until = 0.0


def _delivery_store(*, text: str, digest: str) -> tuple[WebhookDelivery, bool]:
    """Store a body once per hash: one ``INSERT … ON CONFLICT DO NOTHING
    RETURNING`` (its own commit unless the caller holds a transaction) of the
    received time, the body and its hash; the database gives the other columns
    their defaults (the model's ``db_default``, the same as its Python defaults).
    When it returns no row the body was stored before (a provider retry): that
    one is read and returned, not created."""
    delivery = WebhookDelivery(
        received_at=timezone.now(), body=text, body_sha256=digest
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _store_sql(connection.vendor),
            [
                connection.ops.adapt_datetimefield_value(delivery.received_at),
                text,
                digest,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return WebhookDelivery.objects.get(body_sha256=digest), False
    delivery.pk = row[0]
    delivery._state.adding = False
    delivery._state.db = connection.alias
    return delivery, True


@functools.cache
def _store_sql(vendor: str) -> str:
    opts = WebhookDelivery._meta
    quote = connection.ops.quote_name
    columns = [opts.get_field(f).column for f in _STORED_FIELDS]
    return (
        f"INSERT INTO {quote(opts.db_table)} "  # noqa: S608
        f"({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({quote(opts.get_field('body_sha256').column)}) DO NOTHING "
        f"RETURNING {quote(opts.pk.column)}"
    )


# What the intake writes; every other column has a database default.
_STORED_FIELDS = ("received_at", "body", "body_sha256")


def deliveries_batched() -> bool:
    """Whether workers process waiting deliveries in batches: where the database
    skips locked rows (PostgreSQL) and the wake-up flag is shared by every
    process (the Redis cache). Otherwise each delivery has its own task."""
    return connection.features.has_select_for_update_skip_locked and (
        "redis" in settings.CACHES["default"]["BACKEND"].lower()
    )


def _delivery_process_enqueue(delivery_id: int) -> None:
    """Hand a stored delivery to the worker. Once stored it is accepted: a failure
    to process (or to enqueue) is recorded and retried, never answered as an
    error to the provider (deliveries_retry picks it up).

    Where deliveries are batched, a task processes every delivery waiting when it
    runs, so only the POST that raises the wake-up flag enqueues one; while the
    flag is up a worker is claiming (or a task is queued to), and it claims once
    more after lowering it, so a delivery stored while the flag was up is claimed
    by it (or by another worker). A process that saw the flag up takes it as up
    for ``WHATSAPP_WEBHOOK_WAKE_MEMO_SECONDS`` without asking Redis; the worker
    waits as long between lowering it and its last claim (``_deliveries_drain``),
    so a delivery stored by such a POST is still taken. With the cache down the
    flag reads as lowered and every POST tries to enqueue, as before."""
    global _wake_up_until
    from ..tasks import delivery_process_task

    raised = False
    try:
        if (
            not delivery_process_task.app.conf.task_always_eager
            and deliveries_batched()
        ):
            asked = time.monotonic()
            if asked < _wake_up_until:
                return  # seen up a moment ago: a worker takes this delivery
            added = cache.add(_WAKE_KEY, 1, timeout=_WAKE_SECONDS)
            if added is not None:  # None: the cache is down (IGNORE_EXCEPTIONS)
                _wake_up_until = asked + settings.WHATSAPP_WEBHOOK_WAKE_MEMO_SECONDS
            if added is False:
                return  # a task is already asked to process the waiting deliveries
            raised = bool(added)
        delivery_process_task.delay(delivery_id)
    except Exception as exc:
        if raised:
            # No task was queued: lower the flag so the next POST tries again.
            deliveries_wake_reset()
        # Recorded on the delivery (received or failed): the beat retries it,
        # and the attempt that makes it a dead letter is logged at ERROR.
        logger.warning(
            "Delivery %s stored; processing will be retried (%s)",
            delivery_id,
            type(exc).__name__,
            exc_info=True,
        )


def deliveries_wake_hold() -> None:
    """Hold the wake-up flag up: a worker claiming deliveries in a loop takes
    those the POSTs store meanwhile, so they need not enqueue a task."""
    cache.set(_WAKE_KEY, 1, timeout=_WAKE_SECONDS)


def deliveries_wake_reset() -> None:
    """Lower the wake-up flag: the next POST (in a process that has not seen it
    up within ``WHATSAPP_WEBHOOK_WAKE_MEMO_SECONDS``) enqueues a task again. The
    worker lowering it claims once more after that long (``_deliveries_drain``):
    what was stored before is taken."""
    global _wake_up_until
    _wake_up_until = 0.0
    cache.delete(_WAKE_KEY)


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
        .order_by("pk")  # the pending index's order: oldest first
        .values_list("pk", flat=True)[:500]
    )
    for delivery_id in ids:
        _delivery_process_enqueue(delivery_id)
    return ids


def delivery_process(
    *, delivery_id: int, pending_only: bool = False
) -> WebhookDelivery:
    """Record every message and status of a stored delivery; safe to re-run.

    With ``pending_only`` (the worker's task) a delivery another worker has
    processed meanwhile is returned as it is, not processed again.
    """
    try:
        with transaction.atomic():
            delivery = delivery_lock(delivery_id)
            if pending_only and delivery.status not in _PENDING:
                return delivery
            parsed = _stored_parse(delivery.body)
            result = _deliveries_record([(delivery.pk, parsed)])[delivery.pk]
            delivery.status, delivery.result = result
            if parsed.template_updates:
                # F9: the provider's template status and category events.
                delivery.result["templates"] = template_events_record(
                    updates=parsed.template_updates, delivery=delivery
                )
            delivery.processed_at = timezone.now()
            # Locked above: no other transaction changes the count meanwhile.
            delivery.attempts += 1
            delivery.error = ""
            delivery.save(
                update_fields=["status", "result", "processed_at", "attempts", "error"]
            )
    except Exception as exc:
        _delivery_failed(delivery_id, exc)
        raise
    return delivery


def _delivery_failed(delivery_id: int, exc: Exception) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=WebhookDelivery.Status.FAILED,
        error=f"{type(exc).__name__}: {exc}"[:2000],
        attempts=F("attempts") + 1,
    )
    _dead_letter_log(delivery_id, exc)


# Statuses one batch records at most (a POST holds up to 1000): the deliveries
# claimed beyond it are processed one by one after the batch.
_BATCH_STATUSES = 5000


def deliveries_process_waiting(*, limit: int) -> int:
    """Claim up to ``limit`` received deliveries no other worker holds and process
    them; returns how many were claimed (0: nothing waits).

    The deliveries holding only statuses (the provider's normal traffic) are
    recorded together in one transaction, in a constant number of statements
    whatever their number. One with inbound messages (contacts, conversations,
    windows: their own lock order), one with template events (F9), one that
    does not parse, and every delivery
    of a batch that failed are then processed one by one (``delivery_process``,
    which records a failure on its delivery), each exactly once: a delivery is
    claimed only while received, under a lock no other worker may share.
    PostgreSQL only (``deliveries_batched``).
    """
    alone: list[int] = []
    claimed: list[tuple[int, str]] = []
    try:
        with transaction.atomic():
            claimed = deliveries_claim(limit)
            batch = []
            statuses = 0
            for pk, body in claimed:
                try:
                    parsed = _stored_parse(body)
                except Exception:
                    alone.append(pk)
                    continue
                size = sum(len(c.statuses) for c in parsed.changes)
                if (
                    any(c.messages for c in parsed.changes)
                    or parsed.template_updates
                    or (batch and statuses + size > _BATCH_STATUSES)
                ):
                    alone.append(pk)
                    continue
                statuses += size
                batch.append((pk, parsed))
            _deliveries_batch_record(batch)
    except Exception as exc:
        if not claimed or (
            isinstance(exc, DatabaseError) and not connection.is_usable()
        ):
            raise  # nothing claimed, or the database is gone: the task is retried
        # Rolled back as a whole (no savepoint per batch): each one alone.
        logger.warning(
            "A batch of %d deliveries failed (%s); processing them one by one",
            len(claimed),
            type(exc).__name__,
        )
        alone = [pk for pk, _ in claimed]
    for pk in sorted(alone):
        try:
            delivery_process(delivery_id=pk, pending_only=True)
        except Exception:  # noqa: S112 - recorded on the delivery, logged
            continue
    return len(claimed)


def _deliveries_batch_record(batch: list[tuple[int, object]]) -> None:
    """Record a batch of parsed deliveries and mark each processed: one UPDATE
    per distinct outcome (usually one for the whole batch)."""
    if not batch:
        return
    results = _deliveries_record(batch)
    now = timezone.now()
    outcomes: dict[str, tuple[str, dict, list[int]]] = {}
    for pk, (status, result) in results.items():
        key = status + json.dumps(result, sort_keys=True)
        outcomes.setdefault(key, (status, result, []))[2].append(pk)
    for status, result, pks in outcomes.values():
        WebhookDelivery.objects.filter(pk__in=pks).update(
            status=status,
            result=result,
            processed_at=now,
            attempts=F("attempts") + 1,
            error="",
        )


def _deliveries_record(
    deliveries: list[tuple[int, object]],
) -> dict[int, tuple[str, dict]]:
    """Record the messages and statuses of parsed deliveries in the caller's
    transaction: one read of their numbers, each change's inbound messages,
    every status at once. Returns each delivery's (status, result); the
    statuses of messages not known yet are linked after commit."""
    ids = {c.phone_number_id for _, parsed in deliveries for c in parsed.changes}
    numbers = (
        {
            n.phone_number_id: n
            # No default ordering: it joins the company for its name.
            for n in BusinessNumber.objects.filter(phone_number_id__in=ids).order_by()
        }
        if ids
        else {}
    )
    outcomes = {}
    batches = []
    owners = []
    for delivery_id, parsed in deliveries:
        unknown: set[str] = set()
        counts = {"messages": 0, "statuses": 0}
        for change in parsed.changes:
            number = numbers.get(change.phone_number_id)
            if number is None:
                unknown.add(change.phone_number_id)
                continue
            counts["messages"] += inbound_messages_record(number=number, change=change)
            counts["statuses"] += len(change.statuses)
            if change.statuses:
                batches.append((number, change.statuses, delivery_id))
                owners.append((delivery_id, number.company_id))
        outcomes[delivery_id] = (unknown, counts, parsed.ignored_fields)
    orphans: dict[int, set[str]] = {}
    unknown_wamids: dict[int, int] = {}
    for (delivery_id, company_id), wamids in zip(
        owners, status_batches_record(batches=batches), strict=True
    ):
        orphans.setdefault(company_id, set()).update(wamids)
        unknown_wamids[delivery_id] = unknown_wamids.get(delivery_id, 0) + len(wamids)
    for company_id, wamids in sorted(orphans.items()):
        if wamids:
            transaction.on_commit(
                functools.partial(
                    status_orphans_link, company_id=company_id, wamids=sorted(wamids)
                )
            )
    results = {}
    for delivery_id, (unknown, counts, ignored) in outcomes.items():
        status = (
            WebhookDelivery.Status.UNMATCHED
            if unknown
            else WebhookDelivery.Status.PROCESSED
        )
        results[delivery_id] = (
            status,
            {
                **counts,
                "unknown_phone_number_ids": sorted(unknown),
                "ignored_fields": ignored,
                "unknown_wamids": unknown_wamids.get(delivery_id, 0),
            },
        )
    return results


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
