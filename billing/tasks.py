"""Celery tasks: thin wrappers that load by id and call one service."""

import logging
from datetime import date, timedelta

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from accounts.models import Company

from . import services
from .models import Invoice

logger = logging.getLogger(__name__)

TRANSIENT = (DatabaseError,)


@shared_task(
    bind=True,
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=8,
    acks_late=True,
)
def invoice_compute_task(self, company_id: int, month: str) -> dict:
    invoice = services.invoice_compute(
        company=Company.objects.get(pk=company_id), month=date.fromisoformat(month)
    )
    return {
        "invoice": invoice.pk,
        "status": invoice.status,
        "total": str(invoice.total),
    }


@shared_task(acks_late=True)
def billing_month_run_task() -> int:
    """D3: fan out one compute per company whose month has ended in its zone."""
    due = services.companies_due(at=timezone.now())
    for company_id, month in due:
        invoice_compute_task.delay(company_id, month.isoformat())
    logger.info("Billing run: %d company months enqueued", len(due))
    return len(due)


@shared_task(
    bind=True, autoretry_for=TRANSIENT, retry_backoff=5, max_retries=8, acks_late=True
)
def invoice_finalize_task(self, invoice_id: int) -> dict:
    invoice = Invoice.objects.get(pk=invoice_id)
    if invoice.status != Invoice.Status.DRAFT:
        return {"invoice": invoice.pk, "status": invoice.status}
    invoice = services.invoice_finalize(invoice=invoice)
    return {"invoice": invoice.pk, "number": invoice.number}


@shared_task(acks_late=True)
def invoices_finalize_due_task() -> int:
    """Finalize drafts once the grace period for late webhooks has passed."""
    grace = timedelta(days=settings.BILLING_FINALIZE_GRACE_DAYS)
    due = services.invoices_finalize_due(at=timezone.now(), grace=grace)
    for invoice_id in due:
        invoice_finalize_task.delay(invoice_id)
    return len(due)
