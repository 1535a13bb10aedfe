"""Celery tasks: thin wrappers that load by id and call one service."""

import logging
from datetime import date, timedelta

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from accounts.models import Company
from accounts.queueing import enqueue

from . import selectors, services
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
    due = selectors.months_to_bill(at=timezone.now())
    for company_id, month in due:
        invoice_compute_task.delay(company_id, month.isoformat())
    logger.info("Billing run: %d company months enqueued", len(due))
    return len(due)


@shared_task(
    bind=True, autoretry_for=TRANSIENT, retry_backoff=5, max_retries=8, acks_late=True
)
def invoice_finalize_task(self, invoice_id: int) -> dict:
    from .exceptions import DisagreementsUnreviewed

    invoice = Invoice.objects.select_related("company").get(pk=invoice_id)
    if invoice.status != Invoice.Status.DRAFT:
        return {"invoice": invoice.pk, "status": invoice.status}
    try:
        invoice = services.invoice_finalize(invoice=invoice)
    except DisagreementsUnreviewed as exc:
        # F4: not an error to retry now (the draft keeps what the refused
        # recompute found); the daily run tries again tomorrow.
        logger.warning("Finalization blocked: %s", exc.message)
        return {
            "invoice": invoice.pk,
            "status": Invoice.Status.DRAFT,
            "blocked": "disagreements_unreviewed",
            "unreviewed": exc.count,
        }
    return {"invoice": invoice.pk, "number": invoice.number}


@shared_task(acks_late=True)
def invoices_finalize_due_task() -> int:
    """Finalize drafts once the grace period for late webhooks has passed."""
    grace = timedelta(days=settings.BILLING_FINALIZE_GRACE_DAYS)
    due = selectors.drafts_due_for_finalization(at=timezone.now(), grace=grace)
    for invoice_id in due:
        invoice_finalize_task.delay(invoice_id)
    return len(due)


# --- Spend alerts -----------------------------------------------------------------


@shared_task(
    bind=True, autoretry_for=TRANSIENT, retry_backoff=5, max_retries=5, acks_late=True
)
def spend_alerts_check_task(self, company_id: int) -> dict:
    """Email the company's admins about budget thresholds newly crossed this month.

    Safe to retry and to run twice at once: each alert is recorded once (unique
    per company, month and threshold) and emailed only after that commit.
    """
    recorded = services.spend_alerts_check(
        company=Company.objects.get(pk=company_id), at=timezone.now()
    )
    return {"company": company_id, "thresholds": [a.threshold for a in recorded]}


@shared_task(acks_late=True)
def spend_alerts_run_task() -> int:
    """Fan out one check per company with a budget and a threshold still to notify."""
    due = selectors.spend_alerts_due(at=timezone.now())
    for company_id in due:
        spend_alerts_check_task.delay(company_id)
    logger.info("Spend alerts: %d companies to check", len(due))
    return len(due)


# --- Invoice and credit note emails -------------------------------------------------


@shared_task(
    bind=True, autoretry_for=TRANSIENT, retry_backoff=5, max_retries=8, acks_late=True
)
def document_email_send_task(self, email_id: int) -> dict:
    """Send one recorded invoice or credit note email; a send failure is kept on
    the row and tried again by ``document_emails_retry_task``."""
    row = services.document_email_send(email_id=email_id)
    return {"email": row.pk, "status": row.status, "attempts": row.attempts}


@shared_task(acks_late=True)
def document_emails_retry_task() -> int:
    """Beat: enqueue again the emails that failed (tries left) or whose task was
    lost; a sent one is never sent again."""
    due = selectors.document_emails_due(at=timezone.now())
    for email_id in due:
        enqueue(document_email_send_task, email_id)
    return len(due)


# --- The month so far ----------------------------------------------------------


@shared_task(
    bind=True, autoretry_for=TRANSIENT, retry_backoff=2, max_retries=5, acks_late=True
)
def usage_sync_task(self, company_id: int) -> dict:
    """Bring the company's month so far up to date (incremental; safe to repeat)."""
    from django.core.cache import cache

    # A change committing from now on enqueues a new sync.
    cache.delete(f"billing:usage-sync:{company_id}")
    done = services.usage_sync(company=Company.objects.get(pk=company_id))
    return {"company": company_id, **done}


@shared_task(acks_late=True)
def usage_sync_run_task() -> int:
    """Fan out one sync per company with changes waiting or a stale month so far."""
    due = services.usage_sync_due()
    for company_id in due:
        usage_sync_task.delay(company_id)
    return len(due)
