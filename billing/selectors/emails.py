"""Billing document emails still to send (D2)."""

from datetime import datetime, timedelta

from django.db.models import Q

from ..models import DocumentEmail

# Tries of one email before it waits for Customer Success ("Send again").
MAX_ATTEMPTS = 5
# How long a row waits between tries (and how old an unsent row is before the
# beat enqueues it again: its task was lost while the broker was down).
RETRY_AFTER = timedelta(minutes=10)


def document_emails_due(*, at: datetime) -> list[int]:
    """Rows to try again: failed with tries left, or still unsent since before
    ``RETRY_AFTER`` (the task was lost), oldest first."""
    before = at - RETRY_AFTER
    return list(
        DocumentEmail.objects.filter(
            Q(status=DocumentEmail.Status.FAILED, attempted_at__lt=before)
            | Q(status=DocumentEmail.Status.PENDING, created_at__lt=before),
            attempts__lt=MAX_ATTEMPTS,
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:500]
    )
