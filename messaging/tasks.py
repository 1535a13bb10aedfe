import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from accounts.queueing import enqueue

from . import sandbox, services


@shared_task(
    bind=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=10,
    acks_late=True,
)
def delivery_process_task(self, delivery_id: int) -> dict:
    """Process a stored delivery. On a worker where deliveries are batched
    (PostgreSQL, the Redis cache) it first processes every received delivery
    waiting, in batches of ``WHATSAPP_WEBHOOK_BATCH_SIZE``: one task for many
    POSTs (see ``services.intake._delivery_process_enqueue``). Its own delivery
    is then already done, unless it had failed before (a retry by the beat)."""
    processed = 0
    if not self.request.is_eager and services.deliveries_batched():
        processed = _deliveries_drain()
    delivery = services.delivery_process(delivery_id=delivery_id, pending_only=True)
    return {"delivery": delivery.pk, "status": delivery.status, "batched": processed}


def _deliveries_drain() -> int:
    """Claim and process waiting deliveries while the wake-up flag is held up (so
    POSTs meanwhile enqueue nothing: this task takes their deliveries), waiting
    ``WHATSAPP_WEBHOOK_POLL_SECONDS`` after a batch that was not full so the next
    one fills, until nothing came for ``WHATSAPP_WEBHOOK_DRAIN_IDLE_SECONDS`` or
    ``WHATSAPP_WEBHOOK_DRAIN_SECONDS`` have passed. Then it lowers the flag,
    waits ``WHATSAPP_WEBHOOK_WAKE_MEMO_SECONDS`` (a web process that saw the
    flag up just before takes it as up that long) and claims once more until a
    batch is not full: every delivery stored by a POST that took the flag as up
    is taken, by this task or another worker; the next POST raises the flag and
    enqueues a task again."""
    limit = settings.WHATSAPP_WEBHOOK_BATCH_SIZE
    poll = settings.WHATSAPP_WEBHOOK_POLL_SECONDS
    now = time.monotonic()
    deadline = now + settings.WHATSAPP_WEBHOOK_DRAIN_SECONDS
    idle_until = now + settings.WHATSAPP_WEBHOOK_DRAIN_IDLE_SECONDS
    processed = 0
    try:
        while time.monotonic() < min(deadline, idle_until):
            services.deliveries_wake_hold()
            claimed = services.deliveries_process_waiting(limit=limit)
            processed += claimed
            if claimed:
                idle_until = time.monotonic() + (
                    settings.WHATSAPP_WEBHOOK_DRAIN_IDLE_SECONDS
                )
            if claimed < limit:
                time.sleep(poll)
    finally:
        services.deliveries_wake_reset()
    time.sleep(settings.WHATSAPP_WEBHOOK_WAKE_MEMO_SECONDS)
    while (claimed := services.deliveries_process_waiting(limit=limit)) > 0:
        processed += claimed
        if claimed < limit:
            break
    return processed


@shared_task
def sandbox_statuses_emit_task(message_id: int) -> None:
    sandbox.sandbox_statuses_emit(message_id=message_id)


@shared_task
def deliveries_retry_task() -> int:
    """Beat: reprocess webhook deliveries whose processing failed or was lost."""
    return len(
        services.deliveries_retry(
            older_than=timedelta(minutes=2),
            max_attempts=settings.WHATSAPP_WEBHOOK_MAX_ATTEMPTS,
        )
    )


@shared_task
def sandbox_statuses_retry_task() -> int:
    """Beat: emit the statuses of sandbox messages whose emission was lost."""
    ids = sandbox.sandbox_statuses_pending(at=timezone.now())
    for message_id in ids:
        enqueue(sandbox_statuses_emit_task, message_id)
    return len(ids)
