"""The month so far's row lock (billing/locks.py's order: after the company)."""

from accounts.models import Company

from ..models import UsageSnapshot


def usage_snapshot_lock(*, company: Company, stale: bool = False) -> UsageSnapshot:
    """Lock (creating it once) the company's month so far: its syncs and billing
    runs rebuild unbilled charges one at a time. ``stale``: the caller moves
    charges (a billing run), so the next sync rebuilds in full."""
    UsageSnapshot.objects.get_or_create(company=company)
    snapshot = UsageSnapshot.objects.select_for_update(no_key=True).get(company=company)
    if stale and snapshot.fingerprint:
        snapshot.fingerprint = ""
        snapshot.save(update_fields=["fingerprint"])
    return snapshot
