"""The month so far's row lock (billing/locks.py's order: after the company)."""

from django.conf import settings
from django.db import transaction

from accounts.models import Company

from ..models import UsageSnapshot


def usage_snapshot_lock(*, company: Company, stale: bool = False) -> UsageSnapshot:
    """Lock (creating it once) the company's month so far: its syncs and billing
    runs rebuild unbilled charges one at a time. ``stale``: the caller moves
    charges (a billing run), so the next sync, enqueued on commit, rebuilds in
    full."""
    UsageSnapshot.objects.get_or_create(company=company)
    snapshot = UsageSnapshot.objects.select_for_update(no_key=True).get(company=company)
    if stale:
        if snapshot.fingerprint:
            snapshot.fingerprint = ""
            snapshot.save(update_fields=["fingerprint"])
        if settings.BILLING_USAGE_SYNC_ON_CHANGE:
            from .usage import usage_sync_soon

            transaction.on_commit(lambda: usage_sync_soon(company_id=company.pk))
    return snapshot
