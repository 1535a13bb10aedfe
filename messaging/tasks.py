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
    delivery = services.delivery_process(delivery_id=delivery_id)
    return {"delivery": delivery.pk, "status": delivery.status}


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
