"""The month so far, kept up to date incrementally (D1-D3): the company's unbilled
charges are rebuilt only for the conversations that changed since the last sync,
and their sums (the groups an invoice's lines are made of, the chart's days) are
adjusted by what was removed and added. A GET reads the sums (``selectors.
month_so_far``): no write, no lock, no computation of charges.

Synced by ``usage_sync_task``: enqueued on commit of a change (a delivery status,
an inbound message; debounced per company), by the beat for every company with
changes waiting or a stale snapshot, and after a billing run (which moves charges
onto drafts: the sums are read again, no charge is rebuilt). A change of what
charges are priced with (rates, markets, charge policies, the company's
currency or zone) or volume tiers rebuild in full.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Company

from .. import invoicing, rules, selectors
from ..models import (
    Charge,
    MarketPrefix,
    Rate,
    UsageChange,
    UsageSnapshot,
    VolumeTier,
)
from .charges import charges_sync
from .charges_sql import company_queries_planner
from .tiers import tiers_apply
from .usage_state import usage_snapshot_take

# More changed conversations (or messages) than this: a full rebuild is cheaper.
INCREMENTAL_MAX = 2000
INCREMENTAL_MESSAGES_MAX = 50_000
# The chart's messages per day are recounted at most this often.
ACTIVITY_EVERY = timedelta(minutes=5)


def usage_fingerprint(*, company: Company) -> str:
    """What the company's charges are priced with: its currency, zone and tax,
    the rates of its and the price list's cards, the market prefixes and the
    charge policies in force over time. Another value: rebuild in full."""
    parts = [
        company.billing_currency,
        company.billing_timezone,
        str(company.tax_rate),
        repr(
            list(
                Rate.objects.filter(card__currency=company.billing_currency)
                .filter(Q(card__company__isnull=True) | Q(card__company=company))
                .order_by("id")
                .values_list("id", "market_id", "category", "effective_from", "rate")
            )
        ),
        repr(
            list(
                MarketPrefix.objects.order_by("id").values_list(
                    "id", "market_id", "prefix", "effective_from", "effective_until"
                )
            )
        ),
        repr(
            [
                (s.policy_id, s.since, s.terms)
                for s in selectors.policy_timeline(company=company)
            ]
        ),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _unbilled(company: Company):
    return Charge.objects.filter(company=company, invoice__isnull=True)


@transaction.atomic
def usage_sync(*, company: Company, full: bool = False) -> dict:
    """Bring the company's month so far up to date; returns what it did.

    Takes the month so far's own row lock (never the company's: a sync does not
    hold up seats or invoices), so syncs and billing runs rebuild unbilled
    charges one at a time.
    """
    snapshot = usage_snapshot_take(company=company)
    company_queries_planner()
    company = Company.objects.get(pk=company.pk)
    now = timezone.now()
    _, until = rules.month_bounds(rules.month_of(now, company.zone), company.zone)
    taken = list(
        UsageChange.objects.filter(company=company).values_list(
            "id", "conversation_id", "message_id"
        )
    )
    # Whole conversations (an inbound message, C3), and single messages (a
    # delivery status) outside them.
    changed = sorted({c for _, c, m in taken if m is None})
    whole = set(changed)
    single = sorted({m for _, c, m in taken if m is not None and c not in whole})
    UsageChange.objects.filter(pk__in=[pk for pk, _, _ in taken]).delete()
    fingerprint = usage_fingerprint(company=company)
    tiers = VolumeTier.objects.filter(company=company).exists()
    rebuild = (
        full
        or tiers  # a tier prices by rank in the month: every charge may move
        or snapshot.fingerprint != fingerprint
        or len(changed) > INCREMENTAL_MAX
        or len(single) > INCREMENTAL_MESSAGES_MAX
    )
    scope = {"conversations": changed, "messages": single}
    zone = company.zone
    if rebuild:
        charges_sync(company=company, invoice=None, until=until)
        if tiers:
            tiers_apply(company=company, invoice=None)
        unbilled = _unbilled(company)
        snapshot.groups = invoicing.groups_dump(
            selectors.charge_groups(charges=unbilled, zone=zone)
        )
        snapshot.days = selectors.charge_days(charges=unbilled, zone=zone)
        done = {"rebuilt": True, "conversations": None, "messages": None}
    elif snapshot.moved:
        # A billing run moved charges onto an invoice and left the others as
        # they were: bring the changed conversations up to date, then sum the
        # unbilled charges again (a read, no charge rebuilt).
        if changed or single:
            charges_sync(company=company, invoice=None, until=until, **scope)
        unbilled = _unbilled(company)
        snapshot.groups = invoicing.groups_dump(
            selectors.charge_groups(charges=unbilled, zone=zone)
        )
        snapshot.days = selectors.charge_days(charges=unbilled, zone=zone)
        done = {
            "rebuilt": False,
            "conversations": len(changed),
            "messages": len(single),
            "moved": True,
        }
    elif changed or single:
        affected = _unbilled(company).filter(
            selectors.changed_messages(**scope, of_charges=True)
        )
        before = selectors.charge_groups(charges=affected, zone=zone)
        days_before = selectors.charge_days(charges=affected, zone=zone)
        charges_sync(company=company, invoice=None, until=until, **scope)
        after = selectors.charge_groups(charges=affected, zone=zone)
        days_after = selectors.charge_days(charges=affected, zone=zone)
        groups = invoicing.groups_load(snapshot.groups)
        groups = invoicing.groups_add(groups, before, -1)
        groups = invoicing.groups_add(groups, after, 1)
        snapshot.groups = invoicing.groups_dump(groups)
        snapshot.days = _days_add(snapshot.days, days_before, days_after)
        done = {
            "rebuilt": False,
            "conversations": len(changed),
            "messages": len(single),
        }
    else:
        done = {"rebuilt": False, "conversations": 0, "messages": 0}
    if (
        rebuild
        or snapshot.activity_at is None
        or now - snapshot.activity_at >= (ACTIVITY_EVERY)
    ):
        start, end = rules.month_bounds(rules.month_of(now, zone), zone)
        activity = selectors.daily_activity(
            company=company, start=start, end=end, zone=zone
        )
        snapshot.activity = {d.isoformat(): kinds for d, kinds in activity.items()}
        snapshot.activity_at = now
    snapshot.fingerprint = fingerprint
    snapshot.moved = False
    snapshot.synced_at = now
    snapshot.save()
    return done


def _days_add(days: dict, before: dict, after: dict) -> dict:
    from decimal import Decimal

    total: dict[str, dict[str, Decimal]] = {
        d: {c: Decimal(v) for c, v in cats.items()} for d, cats in days.items()
    }
    for sign, delta in ((-1, before), (1, after)):
        for d, cats in delta.items():
            for c, v in cats.items():
                day = total.setdefault(d, {})
                day[c] = day.get(c, Decimal(0)) + sign * Decimal(v)
    return {
        d: {c: str(v) for c, v in cats.items() if v}
        for d, cats in total.items()
        if any(cats.values())
    }


def usage_changes_record(
    *,
    company_id: int,
    conversation_ids: list[int],
    messages: list[tuple[int, int]] | None = None,
) -> None:
    """In the transaction of a change: what the month so far must sync, either
    whole conversations (``conversation_ids``: a new inbound message, C3) or
    single messages (``messages``: (conversation id, message id) pairs whose
    delivery status changed, which changes their own charges only); after
    commit, a sync of the company (at most one per few seconds)."""
    if messages is not None:
        rows = [
            UsageChange(company_id=company_id, conversation_id=c, message_id=m)
            for c, m in messages
        ]
    else:
        rows = [
            UsageChange(company_id=company_id, conversation_id=c)
            for c in conversation_ids
        ]
    if not rows:
        return
    UsageChange.objects.bulk_create(rows)
    if settings.BILLING_USAGE_SYNC_ON_CHANGE:
        transaction.on_commit(lambda: usage_sync_soon(company_id=company_id))


def usage_sync_soon(*, company_id: int) -> None:
    """Enqueue a sync of the company unless one is already due within a few
    seconds (bursts of webhooks make one sync)."""
    from django.core.cache import cache

    from ..tasks import usage_sync_task

    delay = settings.BILLING_USAGE_SYNC_DELAY
    if delay and not cache.add(f"billing:usage-sync:{company_id}", 1, timeout=delay):
        return
    try:
        usage_sync_task.apply_async((company_id,), countdown=delay)
    except Exception:  # noqa: BLE001 - the beat syncs what a lost enqueue left
        import logging

        logging.getLogger(__name__).warning(
            "Month so far of %s not enqueued; the beat syncs it", company_id
        )


def usage_sync_due() -> list[int]:
    """Companies whose month so far has changes waiting or is stale."""
    waiting = set(UsageChange.objects.values_list("company_id", flat=True).distinct())
    stale = set(
        UsageSnapshot.objects.filter(Q(fingerprint="") | Q(moved=True)).values_list(
            "company_id", flat=True
        )
    )
    return sorted(waiting | stale)
