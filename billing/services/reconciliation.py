"""Reconciliation (F4): every delivered message whose status carried the provider's
pricing object, compared with our own classification, on every recompute of the
month's draft (``billing.rules.reconciliation`` judges each combination)."""

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.locks import company_lock
from accounts.models import User
from messaging.models import Message

from ..models import Invoice, PricingDisagreement
from ..rules import SERVICE, Reason
from ..rules import reconciliation as reconciliation_rules

# Facts that, when they change, reopen a reviewed disagreement.
REVIEWED_FACTS = (
    "kind",
    "ours_billable",
    "ours_category",
    "ours_reason",
    "provider_billable",
    "provider_category",
    "provider_type",
)


# Disagreeing (ours, provider's) combinations read per query, and rows per write.
GROUPS_PER_QUERY = 50


BATCH = 500


@dataclass(frozen=True)
class _Group:
    """One distinct (ours, provider's) combination of the month's messages."""

    charge_billable: bool | None  # None: the message has no charge
    charge_category: str | None
    template_category: str
    pricing_text: str

    def ours(self) -> tuple[bool, str]:
        """Our classification: the charge, or free (a free-form message, C5)."""
        if self.charge_billable is None:
            return False, self.template_category or SERVICE
        return self.charge_billable, self.charge_category

    def condition(self) -> Q:
        cond = Q(template_category=self.template_category, p_text=self.pricing_text)
        if self.charge_billable is None:
            return cond & Q(charge__isnull=True)
        return cond & Q(
            charge__billable=self.charge_billable,
            charge__category=self.charge_category,
        )


_GROUP_FIELDS = {
    "g_billable": F("charge__billable"),
    "g_category": F("charge__category"),
    "g_template": F("template_category"),
}


def _scopes(invoice: Invoice, *, carried_over: bool = True) -> list[QuerySet[Message]]:
    """The priced outbound messages an invoice answers for: those delivered in
    its month, and the late ones of finalized months carried over onto it (C7;
    ``carried_over`` False: the caller knows it has none)."""
    priced = Message.objects.filter(
        direction=Message.Direction.OUTBOUND, pricing__isnull=False
    )
    month = priced.filter(
        company_id=invoice.company_id,
        delivered_at__gte=invoice.period_start,
        delivered_at__lt=invoice.period_end,
    )
    carried = priced.filter(
        charge__invoice=invoice, delivered_at__lt=invoice.period_start
    )
    return [
        scope.annotate(p_text=Cast("pricing", TextField())).order_by()
        for scope in ((month, carried) if carried_over else (month,))
    ]


def _facts(group: _Group) -> dict | None:
    """The disagreement facts of a combination, or None when it agrees."""
    try:
        pricing = json.loads(group.pricing_text)
    except (TypeError, ValueError):
        return None
    ours_billable, ours_category = group.ours()
    found = reconciliation_rules.pricing_disagreement(
        ours_billable=ours_billable, ours_category=ours_category, pricing=pricing
    )
    if found is None:
        return None
    kind, provider_billable, provider_category = found
    return {
        "kind": kind,
        "ours_billable": ours_billable,
        "ours_category": ours_category,
        "provider_billable": provider_billable,
        "provider_category": provider_category,
        "provider_type": reconciliation_rules.provider_type(pricing),
    }


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def disagreements_detect(
    *, invoice: Invoice, carried_over: bool = True
) -> dict[int, dict]:
    """Return the current disagreements of ``invoice`` as {message id: facts}."""
    detected: dict[int, dict] = {}
    for scope in _scopes(invoice, carried_over=carried_over):
        groups: dict[_Group, dict] = {}
        combos = scope.values(**_GROUP_FIELDS, g_text=F("p_text")).annotate(
            n=Count("pk")
        )
        for row in combos:
            group = _Group(
                charge_billable=row["g_billable"],
                charge_category=row["g_category"],
                template_category=row["g_template"] or "",
                pricing_text=row["g_text"],
            )
            facts = _facts(group)
            if facts is not None:
                groups[group] = facts
        for chunk in _chunks(list(groups), GROUPS_PER_QUERY):
            condition = Q()
            for group in chunk:
                condition |= group.condition()
            rows = scope.filter(condition).values_list(
                "pk",
                "delivered_at",
                "charge__reason",
                *_GROUP_FIELDS.values(),
                "p_text",
            )
            for pk, delivered_at, reason, billable, category, template, text in rows:
                group = _Group(billable, category, template or "", text)
                if group not in groups:
                    continue  # a row matched by another group's condition only
                if billable is None:
                    reason = "" if template else Reason.SERVICE_FREE
                detected[pk] = {
                    **groups[group],
                    "ours_reason": reason or "",
                    "delivered_at": delivered_at,
                }
    return detected


def disagreements_sync(*, invoice: Invoice, carried_over: bool = True) -> int:
    """F4: re-derive the pricing disagreements of a draft invoice; return how
    many it has.

    Rows whose facts did not change are kept with their review; changed rows are
    updated and their review cleared; rows that agree now are deleted; new ones
    are created. Rows of finalized (paid, void) invoices are never touched. The
    caller holds the company's lock and the transaction (``_invoice_recompute``).
    """
    if invoice.status != Invoice.Status.DRAFT:
        return 0
    now = timezone.now()
    detected = disagreements_detect(invoice=invoice, carried_over=carried_over)
    existing = {
        row["message_id"]: row
        for row in PricingDisagreement.objects.filter(invoice=invoice).values(
            "pk", "message_id", "delivered_at", *REVIEWED_FACTS
        )
    }
    gone = [row["pk"] for mid, row in existing.items() if mid not in detected]
    for chunk in _chunks(gone, BATCH):
        PricingDisagreement.objects.filter(pk__in=chunk).delete()

    # Changed rows share a few distinct sets of facts: one UPDATE per set (a
    # bulk_update's CASE per row is quadratic in the batch).
    changed: dict[tuple, list[int]] = defaultdict(list)
    moved = []
    for mid, facts in detected.items():
        row = existing.get(mid)
        if row is None:
            continue
        if any(row[name] != facts[name] for name in REVIEWED_FACTS):
            changed[tuple(facts[name] for name in REVIEWED_FACTS)].append(row["pk"])
        if row["delivered_at"] != facts["delivered_at"]:
            moved.append(
                PricingDisagreement(pk=row["pk"], delivered_at=facts["delivered_at"])
            )
    for key, pks in changed.items():
        for chunk in _chunks(pks, BATCH):
            PricingDisagreement.objects.filter(pk__in=chunk).update(
                **dict(zip(REVIEWED_FACTS, key, strict=True)),
                detected_at=now,
                reviewed_at=None,
                reviewed_by=None,
                review_note="",
            )
    # A delivery instant moves only when a late "delivered" precedes a "read".
    PricingDisagreement.objects.bulk_update(moved, ["delivered_at"], batch_size=100)

    new = [mid for mid in detected if mid not in existing]
    frozen = _claimed_elsewhere(invoice=invoice, message_ids=new)
    PricingDisagreement.objects.bulk_create(
        [
            PricingDisagreement(
                company_id=invoice.company_id,
                invoice=invoice,
                month=invoice.month,
                message_id=mid,
                detected_at=now,
                **detected[mid],
            )
            for mid in new
            if mid not in frozen
        ],
        batch_size=BATCH,
    )
    return len(detected) - len(frozen)


def _claimed_elsewhere(*, invoice: Invoice, message_ids: list[int]) -> set[int]:
    """Messages whose disagreement is on another invoice: a frozen invoice keeps
    its row (returned, not re-created here); another draft's row moves here."""
    frozen: set[int] = set()
    for chunk in _chunks(message_ids, BATCH):
        others = (
            PricingDisagreement.objects.filter(message_id__in=chunk)
            .exclude(invoice=invoice)
            .values_list("pk", "message_id", "invoice__status")
        )
        drafts = []
        for pk, mid, status in others:
            if status == Invoice.Status.DRAFT:
                drafts.append(pk)
            else:
                frozen.add(mid)
        PricingDisagreement.objects.filter(pk__in=drafts).delete()
    return frozen


@transaction.atomic
def disagreements_review(
    *,
    disagreements: QuerySet[PricingDisagreement] | Iterable[int],
    actor: User | None,
    note: str = "",
) -> int:
    """F4: mark disagreements reviewed by ``actor`` (Customer Success) with a
    note; return how many were newly reviewed.

    Idempotent: a row already reviewed keeps its first review. Only rows of draft
    invoices change (a finalized invoice's rows were all reviewed before it was
    finalized, and are frozen with it). The companies' locks serialise the review
    with the recompute that may reopen a row.
    """
    if isinstance(disagreements, QuerySet):
        ids = list(disagreements.values_list("pk", flat=True))
    else:
        ids = [int(pk) for pk in disagreements]
    open_rows = PricingDisagreement.objects.filter(
        reviewed_at__isnull=True, invoice__status=Invoice.Status.DRAFT
    )
    reviewed = 0
    for chunk in _chunks(sorted(set(ids)), BATCH):
        companies = sorted(
            set(open_rows.filter(pk__in=chunk).values_list("company_id", flat=True))
        )
        for company_id in companies:
            company_lock(company_id)  # lock order: company first, in pk order
        reviewed += open_rows.filter(pk__in=chunk).update(
            reviewed_at=timezone.now(),
            reviewed_by=actor,
            review_note=note.strip()[:500],
        )
    return reviewed
