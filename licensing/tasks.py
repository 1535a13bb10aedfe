"""Celery tasks: thin wrappers that load by id and call one service."""

import logging
from datetime import datetime
from smtplib import SMTPException

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from accounts.models import Company
from accounts.queueing import enqueue

from . import selectors, services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def idle_license_notices_task() -> int:
    """Beat (Mondays 07:00 UTC): one notice per company holding idle licenses."""
    at = timezone.now()
    company_ids = selectors.companies_with_idle_licenses(at=at)
    for company_id in company_ids:
        idle_license_notice_record_task.delay(company_id, at.isoformat())
    logger.info("Idle licenses: %d companies to notify", len(company_ids))
    return len(company_ids)


@shared_task(
    bind=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    max_retries=8,
    acks_late=True,
)
def idle_license_notice_record_task(self, company_id: int, at: str) -> int | None:
    notice = services.idle_license_notice_record(
        company=Company.objects.get(pk=company_id), at=datetime.fromisoformat(at)
    )
    return notice.pk if notice else None


@shared_task(
    bind=True,
    autoretry_for=(DatabaseError, SMTPException, OSError),
    retry_backoff=60,
    retry_backoff_max=3600,
    max_retries=10,
    acks_late=True,
)
def idle_license_notice_email_task(self, notice_id: int) -> str | None:
    notice = services.idle_license_notice_email(notice_id=notice_id)
    return notice.emailed_at.isoformat() if notice.emailed_at else None


@shared_task(acks_late=True)
def idle_license_notice_emails_retry_task() -> int:
    """Beat (hourly): enqueue again the email of every notice recorded but not
    emailed (``emailed_at`` guards against a second email)."""
    ids = selectors.idle_license_notices_unsent(at=timezone.now())
    for notice_id in ids:
        enqueue(idle_license_notice_email_task, notice_id)
    return len(ids)
