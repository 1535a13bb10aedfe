"""The month so far's row, taken by its sync and by billing runs."""

from django.conf import settings
from django.db import transaction

from accounts.models import Company

from ..locks import usage_snapshot_lock
from ..models import UsageSnapshot


def usage_snapshot_take(*, company: Company, stale: bool = False) -> UsageSnapshot:
    """Lock the company's month so far (``locks.usage_snapshot_lock``).
    ``stale``: the caller moves unbilled charges onto an invoice (a billing
    run), so the next sync, enqueued on commit, sums the unbilled charges again
    (a snapshot never synced rebuilds in full anyway)."""
    snapshot = usage_snapshot_lock(company.pk)
    if stale:
        if snapshot.fingerprint and not snapshot.moved:
            snapshot.moved = True
            snapshot.save(update_fields=["moved"])
        if settings.BILLING_USAGE_SYNC_ON_CHANGE:
            from .usage import usage_sync_soon

            transaction.on_commit(lambda: usage_sync_soon(company_id=company.pk))
    return snapshot
