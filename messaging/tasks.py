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
    waiting, in batches of ``WHATSAPP_WEBHOOK_BATCH_SIZE`` (one task for many
    POSTs, see ``services.intake._delivery_process_enqueue``); its own delivery
    is then already done, unless it had failed before (a retry by the beat)."""
    processed = 0
    if not self.request.is_eager and services.deliveries_batched():
        services.deliveries_wake_reset()
        limit = settings.WHATSAPP_WEBHOOK_BATCH_SIZE
        deadline = time.monotonic() + settings.WHATSAPP_WEBHOOK_DRAIN_SECONDS
        while claimed := services.deliveries_process_waiting(limit=limit):
            processed += claimed
            if time.monotonic() > deadline:
                # More may wait, stored before the flag was lowered: leave
                # them to a fresh task so this worker's slot turns over.
                self.delay(delivery_id)
                break
    delivery = services.delivery_process(delivery_id=delivery_id, pending_only=True)
    return {"delivery": delivery.pk, "status": delivery.status, "batched": processed}


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
