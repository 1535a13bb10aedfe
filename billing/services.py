"""Billing writes: charges from messaging facts, invoices, finalization, credit notes.

Everything here is idempotent: recomputing a draft with the same facts gives
the same lines, and finalized invoices never change.
"""

import logging
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import (
    Cast,
    Coalesce,
    Length,
    NullIf,
    Substr,
    TruncMonth,
)
from django.utils import timezone

from accounts.locks import company_lock
from accounts.models import Company, User
from licensing import rules as license_rules
from licensing.models import LicenseCountChange
from licensing.selectors import license_count_history, license_price_history
from messaging.models import Message
from messaging.rules import CUSTOMER_SERVICE_WINDOW

from . import rules
from .exceptions import (
    InvalidCredit,
    InvalidTransition,
    LicensePriceMissing,
    RateMissing,
)
from .models import (
    Charge,
    ChargePolicy,
    ChargePolicyAssignment,
    CreditNote,
    CreditNoteLine,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    Market,
    MarketPrefix,
    VolumeTier,
)
from .money import ZERO, quantize_money

logger = logging.getLogger(__name__)

# --- Charges (C1-C7) -------------------------------------------------------------


def _window_messages(*, conversation_ref: str, at_ref: str):
    """Inbound messages whose 24 h window is open at the outer row's instant (B1)."""
    return Message.objects.filter(
        conversation_id=OuterRef(conversation_ref),
        direction=Message.Direction.INBOUND,
        provider_timestamp__lte=OuterRef(at_ref),
        provider_timestamp__gt=OuterRef(at_ref) - Value(CUSTOMER_SERVICE_WINDOW),
    ).order_by("-provider_timestamp", "-id")


def _market_expression(*, wa_id_ref: str, at_ref: str):
    """C6: longest calling-code prefix of the recipient in force at the instant."""
    longest = (
        MarketPrefix.objects.values_list(Length("prefix"), flat=True)
        .order_by(-Length("prefix"))
        .first()
        or 1
    )
    candidates = Q()
    for n in range(1, longest + 1):
        candidates |= Q(prefix=Substr(OuterRef(wa_id_ref), 1, n))
    match = (
        MarketPrefix.objects.filter(candidates, effective_from__lte=OuterRef(at_ref))
        .filter(
            Q(effective_until__isnull=True) | Q(effective_until__gt=OuterRef(at_ref))
        )
        .order_by(-Length("prefix"), "-effective_from")
        .values("market_id")[:1]
    )
    other = Market.objects.get_or_create(name=rules.OTHER_MARKET)[0].pk
    return Coalesce(Subquery(match), Value(other), output_field=IntegerField())


def deliverable_messages(*, company: Company, until: datetime):
    """Delivered outbound messages of the company before ``until`` (C1)."""
    return Message.objects.filter(
        company=company,
        direction=Message.Direction.OUTBOUND,
        delivered_at__isnull=False,
        delivered_at__lt=until,
    )


def _entry_point_messages(*, conversation_ref: str, at_ref: str):
    """F2: ad-referred inbound messages whose free entry point window is open at
    the outer row's instant: the business's first answer came within 24 h of
    the referral and at most 72 h before the instant."""
    first_answer = (
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            direction=Message.Direction.OUTBOUND,
            provider_timestamp__gte=OuterRef("provider_timestamp"),
            provider_timestamp__lt=OuterRef("provider_timestamp")
            + Value(rules.ENTRY_POINT_ANSWER_WITHIN),
        )
        .order_by("provider_timestamp", "id")
        .values("provider_timestamp")[:1]
    )
    return (
        Message.objects.filter(
            conversation_id=OuterRef(conversation_ref),
            direction=Message.Direction.INBOUND,
            referral__isnull=False,
            provider_timestamp__lte=OuterRef(at_ref),
            provider_timestamp__gt=OuterRef(at_ref)
            - Value(rules.ENTRY_POINT_ANSWER_WITHIN + rules.ENTRY_POINT_FREE_FOR),
        )
        .annotate(answer_at=Subquery(first_answer))
        .filter(
            answer_at__lte=OuterRef(at_ref),
            answer_at__gt=OuterRef(at_ref) - Value(rules.ENTRY_POINT_FREE_FOR),
        )
        .order_by("-provider_timestamp", "-id")
    )


def _has_referrals(*, company: Company, until: datetime) -> bool:
    """F2: whether the company has any ad-referred inbound message before ``until``
    (without one, no free entry point window can exist)."""
    return Message.objects.filter(
        company=company,
        direction=Message.Direction.INBOUND,
        referral__isnull=False,
        provider_timestamp__lt=until,
    ).exists()


def charge_facts(
    *, company: Company, until: datetime, free_form: bool, entry_points: bool
):
    """Delivered messages without a charge yet, with the facts a charge needs:
    the category ("service" for free-form), the recipient's market (C6), the
    inbound message whose window was open at delivery (B1), the referral whose
    free entry point window covered it (F2) and the provider's pricing type.
    Free-form messages only when ``free_form`` (a policy may charge them).
    Each subquery appears once per row."""
    window = _window_messages(conversation_ref="conversation_id", at_ref="delivered_at")
    entry_point = _entry_point_messages(
        conversation_ref="conversation_id", at_ref="delivered_at"
    )
    messages = deliverable_messages(company=company, until=until)
    if not free_form:
        messages = messages.filter(template__isnull=False)
    return (
        # Only this company's charges: during a run the table grows faster than
        # its statistics, and an anti-join against all of it would be scanned whole.
        messages.filter(
            ~Exists(Charge.objects.filter(company=company, message_id=OuterRef("pk")))
        )
        .order_by()  # the INSERT needs no order; skip the default sort
        .values(
            f_message=F("pk"),
            f_category=Coalesce(
                NullIf("template_category", Value("")),
                Value(rules.SERVICE),
                output_field=CharField(),
            ),
            f_delivered_at=F("delivered_at"),
            f_market=_market_expression(
                wa_id_ref="conversation__contact__wa_id", at_ref="delivered_at"
            ),
            f_window=Subquery(window.values("pk")[:1]),
            # Without any ad-referred message there is nothing to look for.
            f_entry_point=Subquery(entry_point.values("pk")[:1])
            if entry_points
            else Cast(Value(None), IntegerField()),
            f_provider_type=KeyTextTransform("type", "pricing"),
        )
    )


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


@dataclass(frozen=True)
class _PolicyStep:
    since: datetime | None  # None: from the beginning of time
    policy_id: int | None  # None: the contract's rules
    terms: rules.PolicyTerms


def policy_timeline(*, company: Company) -> list[_PolicyStep]:
    """F1: the company's charge policies over time (its own, else the default)."""
    assignments = list(
        ChargePolicyAssignment.objects.filter(
            Q(company=company) | Q(company__isnull=True)
        ).values_list("company_id", "effective_from", "policy_id")
    )
    own = [(since, pk) for owner, since, pk in assignments if owner is not None]
    default = [(since, pk) for owner, since, pk in assignments if owner is None]
    steps = rules.policy_segments(own=own, default=default)
    terms = {
        p.pk: policy_terms(p)
        for p in ChargePolicy.objects.filter(pk__in={pk for _, pk in steps if pk})
    }
    return [
        _PolicyStep(since, pk, terms[pk] if pk else rules.CONTRACT_TERMS)
        for since, pk in steps
    ]


def policy_terms(policy: ChargePolicy) -> rules.PolicyTerms:
    return rules.PolicyTerms(
        **{
            field.name: getattr(policy, field.name)
            for field in dataclass_fields(rules.PolicyTerms)
        }
    )


def _classification_sql(timeline: list[_PolicyStep]) -> tuple[str, list, str, list]:
    """The SQL twin of rules.charge_for and rules.rate_category (C2-C5, F1, F2).

    Not a re-implementation: each row gets a key (policy step, category, window
    open, our entry point, the provider's) and the answers for every key are
    computed here by the pure functions and looked up with CASE. Returns the
    key expression and the SELECT list of billable, reason, policy_id, rate_category.
    """
    adapt = connection.ops.adapt_datetimefield_value
    step_sql, step_params = "0", []
    if len(timeline) > 1:
        whens = " ".join("WHEN q.f_delivered_at < %s THEN %s" for _ in timeline[1:])
        step_sql = f"CASE {whens} ELSE %s END"
        for i, step in enumerate(timeline[1:]):
            step_params += [adapt(step.since), i]
        step_params.append(len(timeline) - 1)
    categories = " ".join("WHEN %s THEN %s" for _ in rules.CATEGORIES)
    key_sql = (
        f"(({step_sql}) * 32"
        f" + (CASE q.f_category {categories} ELSE -1000 END) * 8"
        " + (CASE WHEN q.f_window IS NULL THEN 0 ELSE 4 END)"
        " + (CASE WHEN q.f_entry_point IS NULL THEN 0 ELSE 2 END)"
        " + (CASE WHEN q.f_provider_type = %s THEN 1 ELSE 0 END))"
    )
    key_params = [
        *step_params,
        *[v for i, c in enumerate(rules.CATEGORIES) for v in (c, i)],
        rules.PROVIDER_FREE_ENTRY_POINT,
    ]
    answers: dict[str, list[tuple[int, object]]] = {
        "billable": [],
        "reason": [],
        "policy_id": [],
        "rate_category": [],
    }
    for s, step in enumerate(timeline):
        for c, category in enumerate(rules.CATEGORIES):
            for window in (False, True):
                for ours in (False, True):
                    for theirs in (False, True):
                        key = s * 32 + c * 8 + window * 4 + ours * 2 + theirs
                        billable, reason = rules.charge_for(
                            category=category,
                            window_open=window,
                            terms=step.terms,
                            entry_point=ours,
                            provider_entry_point=theirs,
                        )
                        answers["billable"].append((key, billable))
                        answers["reason"].append((key, reason))
                        answers["policy_id"].append((key, step.policy_id))
                        answers["rate_category"].append(
                            (key, rules.rate_category(category, step.terms))
                        )
    columns, params = [], []
    for name, pairs in answers.items():
        if name in ("billable", "policy_id"):
            # Literals typed in SQL: an all-NULL CASE (no policy at all, e.g. a
            # flushed database) would be text on PostgreSQL, hence the CAST.
            def literal(v):
                if v is None:
                    return "NULL"
                if isinstance(v, bool):
                    return "1 = 1" if v else "1 = 0"
                return str(int(v))

            whens = " ".join(f"WHEN {int(k)} THEN {literal(v)}" for k, v in pairs)
            case = f"CASE a.k {whens} END"
            if name == "policy_id":
                case = f"CAST({case} AS INTEGER)"
            columns.append(f"{case} AS {name}")
        else:
            whens = " ".join(f"WHEN {int(k)} THEN %s" for k, _ in pairs)
            columns.append(f"CASE a.k {whens} END AS {name}")
            params += [v for _, v in pairs]
    return key_sql, key_params, ", ".join(columns), params


def _charge_select(
    *, company: Company, until: datetime, invoice: Invoice | None, entry_points: bool
) -> tuple[str, list]:
    """SELECT of complete charge rows: the classification of _classification_sql
    (C2-C5, F1, F2) and the rate subquery applying C6 (the company's card first)."""
    timeline = policy_timeline(company=company)
    free_form = any(step.terms.service_in_window for step in timeline)
    facts_sql, facts_params = charge_facts(
        company=company, until=until, free_form=free_form, entry_points=entry_points
    ).query.sql_with_params()
    key_sql, key_params, class_sql, class_params = _classification_sql(timeline)
    invoice_sql, invoice_params = _invoice_column(company=company, invoice=invoice)
    rate_card_table, rate_table = _q("billing_ratecard"), _q("billing_rate")
    msg = _q("messaging_message")
    # Optimisation fences: without them the planner inlines the subqueries and
    # evaluates the window subquery once per reference (key, join).
    fence = " OFFSET 0" if connection.vendor == "postgresql" else " LIMIT -1 OFFSET 0"
    sql = f"""
        SELECT x.f_message, %s, x.f_category, x.f_market, x.f_delivered_at, x.billable,
               x.reason, x.rate, CASE WHEN x.billable THEN x.rate ELSE 0 END, %s,
               x.f_window,
               (SELECT w.{_q("provider_timestamp")} FROM {msg} w
                 WHERE w.{_q("id")} = x.f_window),
               x.policy_id, x.f_entry_point,
               %s, {invoice_sql}
        FROM (
            SELECT b.*,
                (SELECT rt.{_q("rate")} FROM {rate_table} rt
                   JOIN {rate_card_table} rc ON rc.{_q("id")} = rt.{_q("card_id")}
                  WHERE rt.{_q("market_id")} = b.f_market
                    AND rt.{_q("category")} = b.rate_category
                    AND rt.{_q("effective_from")} <= b.f_delivered_at
                    AND rc.{_q("currency")} = %s
                    AND (rc.{_q("company_id")} = %s OR rc.{_q("company_id")} IS NULL)
                  ORDER BY CASE WHEN rc.{_q("company_id")} IS NULL THEN 1 ELSE 0 END,
                           rt.{_q("effective_from")} DESC
                  LIMIT 1) AS rate
            FROM (
                SELECT a.*, {class_sql}
                FROM (
                    SELECT q.*, {key_sql} AS k FROM ({facts_sql}{fence}) q{fence}
                ) a{fence}
            ) b{fence}
        ) x
        WHERE x.f_category <> %s OR x.billable OR x.reason <> %s
    """  # noqa: S608 - identifiers are quoted constants, values are parameters
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params = [
        company.pk,
        company.billing_currency,
        now,
        *invoice_params,
        company.billing_currency,
        company.pk,
        *class_params,
        *key_params,
        *facts_params,
        # Free-form messages get a charge row when charged, or when free for
        # another reason than C5 (D4 explains it); plain free ones need none.
        rules.SERVICE,
        rules.Reason.SERVICE_FREE,
    ]
    return sql, params


CHARGE_COLUMNS = [
    "message_id",
    "company_id",
    "category",
    "market_id",
    "delivered_at",
    "billable",
    "reason",
    "rate",
    "amount",
    "currency",
    "window_message_id",
    "window_opened_at",
    "policy_id",
    "entry_point_message_id",
    "created_at",
    "invoice_id",
]


def _invoice_column(*, company: Company, invoice: Invoice | None) -> tuple[str, list]:
    """SQL for a new charge's invoice (C7): the draft being computed takes the
    charges delivered in its month, and the late ones of months whose invoice is
    already finalized (carried over). Charges of any other earlier month stay
    unbilled: they belong to their own month's invoice, drafted or not yet."""
    if invoice is None:
        return "NULL", []
    adapt = connection.ops.adapt_datetimefield_value
    frozen: list[list] = []
    for start, end in (
        Invoice.objects.filter(
            company=company,
            status__in=Invoice.FROZEN,
            period_end__lte=invoice.period_start,
        )
        .order_by("period_start")
        .values_list("period_start", "period_end")
    ):
        if frozen and frozen[-1][1] == start:
            frozen[-1][1] = end  # consecutive months make one range
        else:
            frozen.append([start, end])
    tests = ["x.f_delivered_at >= %s"] + [
        "(x.f_delivered_at >= %s AND x.f_delivered_at < %s)" for _ in frozen
    ]
    params = [adapt(invoice.period_start)] + [
        adapt(v) for period in frozen for v in period
    ]
    return f"CASE WHEN {' OR '.join(tests)} THEN %s ELSE NULL END", [
        *params,
        invoice.pk,
    ]


def charges_sync(*, company: Company, invoice: Invoice | None, until: datetime) -> int:
    """Derive one Charge per delivered template before ``until`` (set-based).

    Charges not yet on any invoice, or on ``invoice`` (a draft), are rebuilt
    from the facts, so a late inbound message re-classifies them (C3) and a
    new rate applies. Charges on other invoices are left alone; finalized ones
    are frozen forever. One INSERT … SELECT, which also puts each new charge on
    ``invoice`` (C7); ON CONFLICT makes overlaps harmless.
    """
    stale = Q(invoice__isnull=True)
    if invoice is not None:
        stale |= Q(invoice=invoice)
    Charge.objects.filter(stale, company=company).delete()
    entry_points = _has_referrals(company=company, until=until)
    select, params = _charge_select(
        company=company, until=until, invoice=invoice, entry_points=entry_points
    )
    columns = ", ".join(_q(c) for c in CHARGE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_q(Charge._meta.db_table)} ({columns}) {select} "  # noqa: S608
            "ON CONFLICT (message_id) DO NOTHING",
            params,
        )
        created = cursor.rowcount
    if entry_points:
        _entry_points_explain(company=company)
    return created


def _entry_points_explain(*, company: Company) -> None:
    """F2, D4: when the free entry point window of each new entry point charge opened."""
    pending = list(
        Charge.objects.filter(
            company=company,
            entry_point_message__isnull=False,
            entry_point_opened_at__isnull=True,
        ).annotate(
            referral_at=F("entry_point_message__provider_timestamp"),
            answer_at=Subquery(
                Message.objects.filter(
                    conversation_id=OuterRef("entry_point_message__conversation_id"),
                    direction=Message.Direction.OUTBOUND,
                    provider_timestamp__gte=OuterRef(
                        "entry_point_message__provider_timestamp"
                    ),
                )
                .order_by("provider_timestamp", "id")
                .values("provider_timestamp")[:1]
            ),
        )
    )
    for charge in pending:
        window = rules.entry_point_window(
            referral_at=charge.referral_at, first_answer_at=charge.answer_at
        )
        charge.entry_point_opened_at = window[0] if window else None
    Charge.objects.bulk_update(pending, ["entry_point_opened_at"], batch_size=1000)


# --- Volume tiers (F3) -------------------------------------------------------------


def tier_sets(*, company: Company, month: date) -> dict[tuple[int, str], list]:
    """F3: the tiers in force in ``month`` per (market, category): of each pair,
    the set with the latest ``effective_from`` not after the month (none when
    that set ends the tiers: a row without ``from_message``)."""
    latest: dict[tuple[int, str], date] = {}
    rows = list(
        VolumeTier.objects.filter(
            company=company,
            currency=company.billing_currency,
            effective_from__lte=month,
        ).values_list(
            "market_id", "category", "effective_from", "from_message", "rate", "id"
        )
    )
    for market, category, since, *_ in rows:
        key = (market, category)
        latest[key] = max(latest.get(key, since), since)
    sets: dict[tuple[int, str], list] = {}
    for market, category, since, start, rate, pk in rows:
        if since == latest[(market, category)] and start is not None:
            sets.setdefault((market, category), []).append(
                rules.Tier(from_message=start, rate=rate, id=pk)
            )
    return sets


def _after(key: tuple[datetime, int]) -> Q:
    """Charges at or after (delivered_at, message_id) ``key`` in billing order."""
    return Q(delivered_at__gt=key[0]) | Q(delivered_at=key[0], message_id__gte=key[1])


def tiers_apply(*, company: Company, invoice: Invoice) -> int:
    """F3: price the draft's charged utility and authentication messages by the
    graduated tiers of their delivery month: the n-th charged message of the
    month (company zone, ordered by delivery) takes the rate of the tier that
    contains n. Free messages do not count; messages of the month already on a
    finalized invoice (C7) count first. One UPDATE per tier, not per message."""
    if not VolumeTier.objects.filter(company=company).exists():
        return 0
    charged = Charge.objects.filter(
        invoice=invoice, billable=True, category__in=rules.TIERED_CATEGORIES
    )
    months = {
        date(at.year, at.month, 1)
        for at in charged.datetimes("delivered_at", "month", tzinfo=company.zone)
    }
    updated = 0
    for month in sorted(months):
        start, end = rules.month_bounds(month, company.zone)
        for (market, category), tiers in tier_sets(
            company=company, month=month
        ).items():
            group = Charge.objects.filter(
                company=company,
                billable=True,
                market_id=market,
                category=category,
                delivered_at__gte=start,
                delivered_at__lt=end,
            )
            mine = group.filter(invoice=invoice).order_by("delivered_at", "message_id")
            offset = (
                group.exclude(invoice=invoice).exclude(invoice__isnull=True).count()
            )
            count = mine.count()
            ordered = sorted(tiers, key=lambda t: t.from_message)
            for n, tier in enumerate(ordered):
                lo = max(tier.from_message - offset - 1, 0)
                nxt = ordered[n + 1].from_message if n + 1 < len(ordered) else None
                hi = count if nxt is None else min(nxt - offset - 1, count)
                if lo >= hi:
                    continue
                rows = mine.filter(
                    _after(mine.values_list("delivered_at", "message_id")[lo])
                )
                if hi < count:
                    rows = rows.exclude(
                        _after(mine.values_list("delivered_at", "message_id")[hi])
                    )
                updated += rows.update(
                    rate=tier.rate, amount=tier.rate, tier_id=tier.id
                )
    return updated


# --- License fee (A5) --------------------------------------------------------------


@dataclass(frozen=True)
class LicenseFee:
    amount: Decimal  # rounded to the currency (D1)
    license_days: int
    days_in_month: int
    segments: list[rules.LicenseSegment]

    @property
    def description(self) -> str:
        parts = [
            f"{s.count} license{'s' if s.count != 1 else ''} for {s.days} day{'s' if s.days != 1 else ''}"
            for s in self.segments
        ]
        return "WhatsApp licenses: " + ", ".join(parts)


_INSTANT = timedelta(microseconds=1)


def license_fee_compute(*, company: Company, month: date) -> LicenseFee:
    """A5: the month's license fee in the company's billing time zone."""
    history = license_count_history(company=company)
    prices = license_price_history(company=company)
    days = []
    for start, end in rules.month_days(month, company.zone):
        count = license_rules.count_max_between(history, start=start, end=end)
        # The price in force at the end of the day: a change during the day (or a
        # new company's first price) applies to that whole day, like its count.
        price = license_rules.value_in_force(prices, at=end - _INSTANT, default=None)
        if price is None:
            if count:
                raise LicensePriceMissing(
                    f"No license price for {company} in {company.billing_currency} on "
                    f"{start:%Y-%m-%d}: set a negotiated price or a price list default."
                )
            price = ZERO
        days.append(rules.LicenseDay(count=count, price=price))
    return LicenseFee(
        amount=quantize_money(rules.license_fee(days), company.billing_currency),
        license_days=sum(d.count for d in days),
        days_in_month=len(days),
        segments=rules.license_segments(days),
    )


# --- Invoices (D1-D3) ------------------------------------------------------------------


def _month_start(month: date) -> date:
    return date(month.year, month.month, 1)


# The rate card's messages (no tier) first, on every database.
_TIER_ORDER = F("tier__from_message").asc(nulls_first=True)


def _usage_lines(invoice: Invoice, currency: str, zone) -> list[InvoiceLine]:
    """D1: one line per (category, market, rate): count × rate, rounded; carried-over
    charges (C7) get their own lines naming the month they were delivered in."""
    billable = Charge.objects.filter(invoice=invoice, billable=True)
    lines = []
    group = (
        "category",
        "market_id",
        "market__name",
        "rate",
        "tier_id",
        "tier__from_message",
    )
    current = (
        billable.filter(delivered_at__gte=invoice.period_start)
        .values(*group)
        .annotate(n=Count("id"))
        .order_by("category", "market__name", _TIER_ORDER, "rate")
    )
    for row in current:
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.USAGE,
                description=_usage_description(row),
                category=row["category"],
                market_id=row["market_id"],
                quantity=Decimal(row["n"]),
                unit_price=row["rate"],
                amount=quantize_money(row["rate"] * row["n"], currency),
                details=_tier_details(row),
            )
        )
    carried = (
        billable.filter(delivered_at__lt=invoice.period_start)
        .annotate(orig=TruncMonth("delivered_at", tzinfo=zone))
        .values("orig", *group)
        .annotate(n=Count("id"))
        .order_by("orig", "category", "market__name", _TIER_ORDER, "rate")
    )
    for row in carried:
        orig = row["orig"]
        orig_month = date(orig.year, orig.month, 1)
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.CARRIED_OVER,
                description=f"Carried over from {orig_month:%B %Y}: "
                + _usage_description(row, lower=True),
                category=row["category"],
                market_id=row["market_id"],
                quantity=Decimal(row["n"]),
                unit_price=row["rate"],
                amount=quantize_money(row["rate"] * row["n"], currency),
                original_month=orig_month,
                details=_tier_details(row),
            )
        )
    return lines


def _usage_description(row: dict, *, lower: bool = False) -> str:
    if row["category"] == rules.SERVICE:
        text = f"{'f' if lower else 'F'}ree-form messages, {row['market__name']}"
    else:
        category = row["category"] if lower else row["category"].capitalize()
        text = f"{category} templates, {row['market__name']}"
    if row["tier_id"]:
        text += (
            f" (volume tier from message {row['tier__from_message']:,} of the month)"
        )
    return text


def _tier_details(row: dict) -> dict:
    """F3: which tier priced the line's messages (none: the rate card)."""
    if not row["tier_id"]:
        return {}
    return {"tier_id": row["tier_id"], "tier_from_message": row["tier__from_message"]}


def _invoice_recompute(*, company: Company, invoice: Invoice) -> Invoice:
    """Rebuild a draft's charges and lines from the facts. Caller holds the locks."""
    currency = company.billing_currency
    charges_sync(company=company, invoice=invoice, until=invoice.period_end)
    tiers_apply(company=company, invoice=invoice)
    missing = list(
        Charge.objects.filter(invoice=invoice, billable=True, rate__isnull=True)
        .values_list("category", "market__name")
        .distinct()
        .order_by("category", "market__name")
    )
    if missing:
        names = "; ".join(f"{c} in {m}" for c, m in missing)
        raise RateMissing(
            f"{company} has charged messages without a rate in {currency}: {names}. "
            "Add the rates to the company's or the price list's rate card."
        )
    fee = license_fee_compute(company=company, month=invoice.month)
    lines = []
    if fee.license_days:
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.LICENSE,
                description=fee.description,
                quantity=Decimal(fee.license_days),
                unit_price=(fee.amount / fee.license_days).quantize(
                    Decimal("0.000001")
                ),
                amount=fee.amount,
                details={
                    "days_in_month": fee.days_in_month,
                    "segments": [
                        {"count": s.count, "days": s.days, "price": str(s.price)}
                        for s in fee.segments
                    ],
                },
            )
        )
    lines += _usage_lines(invoice, currency, company.zone)
    subtotal = rules.invoice_total(line.amount for line in lines)
    tax = rules.tax_amount(
        subtotal=subtotal, tax_rate=company.tax_rate, currency=currency
    )
    if company.tax_rate:
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.TAX,
                description=f"Tax {company.tax_rate * 100:.2f} %",
                quantity=Decimal(1),
                unit_price=tax,
                amount=tax,
            )
        )
    for position, line in enumerate(lines):
        line.invoice = invoice
        line.position = position
    InvoiceLine.objects.filter(invoice=invoice).delete()
    InvoiceLine.objects.bulk_create(lines)
    invoice.currency = currency
    invoice.tax_rate = company.tax_rate
    invoice.subtotal = subtotal
    invoice.tax = tax
    invoice.total = rules.invoice_total(line.amount for line in lines)
    invoice.free_templates = Charge.objects.filter(
        invoice=invoice, billable=False
    ).count()
    invoice.computed_at = timezone.now()
    invoice.save()
    from . import reconciliation  # F4: disagreements as current as the charges

    reconciliation.disagreements_sync(invoice=invoice)
    return invoice


@transaction.atomic
def invoice_compute(*, company: Company, month: date) -> Invoice:
    """Compute (or recompute) the company's draft invoice of ``month`` (D1-D3).

    Creates the draft once (unique per company and month), recomputes it from
    the facts every time, and leaves a finalized invoice untouched.
    """
    if connection.vendor == "postgresql":
        # A draft is derived state: if a crash loses this commit, the next run
        # recomputes the same draft. Finalizing stays fully durable.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
    company = company_lock(company)
    month = _month_start(month)
    start, end = rules.month_bounds(month, company.zone)
    invoice, _ = Invoice.objects.get_or_create(
        company=company,
        month=month,
        defaults={
            "period_start": start,
            "period_end": end,
            "currency": company.billing_currency,
            "tax_rate": company.tax_rate,
        },
    )
    if invoice.is_frozen:
        return invoice
    return _invoice_recompute(company=company, invoice=invoice)


@dataclass(frozen=True)
class InvoicePreview:
    invoice: Invoice
    lines: list[InvoiceLine]
    extra: object = None


def invoice_preview(*, company: Company, month: date, collect=None) -> InvoicePreview:
    """Compute the month so far with the same code as the invoice, then roll back.

    The preview equals the final invoice for the same facts, and nothing is saved.
    ``collect(invoice)`` may read more from the computed state before the rollback.
    """

    class _Rollback(Exception):
        pass

    result: list[InvoicePreview] = []
    try:
        with transaction.atomic():
            invoice = invoice_compute(company=company, month=month)
            result.append(
                InvoicePreview(
                    invoice=invoice,
                    lines=list(invoice.lines.select_related("market")),
                    extra=collect(invoice) if collect else None,
                )
            )
            raise _Rollback
    except _Rollback:
        pass
    return result[0]


def _sequence_next(kind: str, year: int) -> int:
    """Take the next number of a gapless sequence; rolls back with the caller."""
    try:
        with transaction.atomic():
            DocumentSequence.objects.get_or_create(kind=kind, year=year)
    except IntegrityError:
        pass  # created concurrently; the lock below serialises us
    sequence = DocumentSequence.objects.select_for_update(no_key=True).get(
        kind=kind, year=year
    )
    sequence.last_number = F("last_number") + 1
    sequence.save(update_fields=["last_number"])
    sequence.refresh_from_db(fields=["last_number"])
    return sequence.last_number


def _company_details(company: Company) -> dict:
    return {
        "name": company.name,
        "email": company.billing_email,
        "address": company.billing_address,
        "country": company.country,
        "timezone": company.billing_timezone,
    }


@transaction.atomic
def invoice_finalize(*, invoice: Invoice, at: datetime | None = None) -> Invoice:
    """D2: recompute a draft one last time, number it and freeze it."""
    at = at or timezone.now()
    company = company_lock(invoice.company_id)
    invoice = Invoice.objects.select_for_update(no_key=True).get(pk=invoice.pk)
    if invoice.status != Invoice.Status.DRAFT:
        raise InvalidTransition(
            f"{invoice} is {invoice.get_status_display().lower()}, not a draft."
        )
    if at < invoice.period_end:
        raise InvalidTransition(
            f"{invoice} covers a month that has not ended yet ({invoice.period_end:%Y-%m-%d %H:%M} UTC)."
        )
    _invoice_recompute(company=company, invoice=invoice)
    from . import reconciliation  # F4: every pricing disagreement reviewed first

    unreviewed = reconciliation.unreviewed_count(invoice=invoice)
    if unreviewed:
        raise reconciliation.DisagreementsUnreviewed(invoice=invoice, count=unreviewed)
    year = at.year
    invoice.number = f"INV-{year}-{_sequence_next('INV', year):06d}"
    invoice.status = Invoice.Status.FINALIZED
    invoice.finalized_at = at
    invoice.billing_details = _company_details(company)
    invoice.save()
    return invoice


def _transition(
    invoice: Invoice, *, allowed: tuple[str, ...], to: str, **fields
) -> Invoice:
    with transaction.atomic():
        locked = Invoice.objects.select_for_update(no_key=True).get(pk=invoice.pk)
        if locked.status not in allowed:
            raise InvalidTransition(
                f"{locked} is {locked.get_status_display().lower()}; it cannot become {to}."
            )
        locked.status = to
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save()
        return locked


def invoice_mark_paid(*, invoice: Invoice, at: datetime | None = None) -> Invoice:
    return _transition(
        invoice,
        allowed=(Invoice.Status.FINALIZED,),
        to=Invoice.Status.PAID,
        paid_at=at or timezone.now(),
    )


def invoice_void(
    *, invoice: Invoice, reason: str, at: datetime | None = None
) -> Invoice:
    """D2: void a finalized invoice; it keeps its number and its charges stay billed."""
    if not reason.strip():
        raise InvalidTransition("Say why the invoice is voided.")
    return _transition(
        invoice,
        allowed=(Invoice.Status.FINALIZED,),
        to=Invoice.Status.VOID,
        voided_at=at or timezone.now(),
        void_reason=reason.strip()[:300],
    )


@transaction.atomic
def credit_note_issue(
    *, invoice: Invoice, amounts: dict[int, Decimal], reason: str, actor: User | None
) -> CreditNote:
    """D2: correct a finalized invoice with a credit note referencing its lines.

    ``amounts`` maps invoice line ids to the amount credited (> 0, at most what is
    left of the line after earlier credit notes). Tax is credited at the
    invoice's rate.
    """
    invoice = Invoice.objects.select_for_update(no_key=True).get(pk=invoice.pk)
    if invoice.status not in (Invoice.Status.FINALIZED, Invoice.Status.PAID):
        raise InvalidCredit(
            "Only finalized or paid invoices are corrected by credit notes."
        )
    if not reason.strip():
        raise InvalidCredit("Say why the credit note is issued.")
    if not amounts:
        raise InvalidCredit("Credit at least one line.")
    lines = {
        line.pk: line
        for line in invoice.lines.exclude(kind=InvoiceLine.Kind.TAX).filter(
            pk__in=amounts
        )
    }
    note_lines = []
    currency = invoice.currency
    for line_id, raw in amounts.items():
        line = lines.get(line_id)
        if line is None:
            raise InvalidCredit(
                f"Line {line_id} is not a creditable line of {invoice}."
            )
        amount = quantize_money(Decimal(raw), currency)
        credited = sum((c.amount for c in line.credits.all()), ZERO)
        if amount <= 0 or amount > line.amount - credited:
            raise InvalidCredit(
                f"{line.description}: credit must be more than 0 and at most "
                f"{line.amount - credited} {currency}."
            )
        note_lines.append(
            CreditNoteLine(
                invoice_line=line, description=line.description, amount=amount
            )
        )
    subtotal = rules.invoice_total(n.amount for n in note_lines)
    tax = rules.tax_amount(
        subtotal=subtotal, tax_rate=invoice.tax_rate, currency=currency
    )
    year = timezone.now().year
    note = CreditNote.objects.create(
        invoice=invoice,
        number=f"CN-{year}-{_sequence_next('CN', year):06d}",
        reason=reason.strip()[:500],
        currency=currency,
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        created_by=actor,
    )
    for n in note_lines:
        n.credit_note = note
    CreditNoteLine.objects.bulk_create(note_lines)
    return note


# --- Runs (D3) ----------------------------------------------------------------------------


def previous_month(at: datetime, zone) -> date:
    """The last month that has fully ended at ``at`` in ``zone``."""
    return rules.month_of(at, zone) - relativedelta(months=1)


def companies_due(*, at: datetime) -> list[tuple[int, date]]:
    """D3: every (company, month) that has ended in the company's zone and has no
    invoice yet, oldest first, from the company's start of billing
    (``rules.billing_start``). A missed run is caught up by the next one; months
    already invoiced (draft or frozen) are left to finalization. Two queries."""
    first_license = LicenseCountChange.objects.filter(company=OuterRef("pk"))
    first_delivery = Message.objects.filter(
        company=OuterRef("pk"), delivered_at__isnull=False
    )
    companies = Company.objects.annotate(
        first_license=Subquery(
            first_license.order_by("effective_at").values("effective_at")[:1]
        ),
        first_delivery=Subquery(
            first_delivery.order_by("delivered_at").values("delivered_at")[:1]
        ),
    ).values_list(
        "pk", "billing_timezone", "created_at", "first_license", "first_delivery"
    )
    due = []
    for pk, tz, created_at, first_license_at, first_delivery_at in companies:
        zone = ZoneInfo(tz)
        start = rules.billing_start(
            created_at=created_at,
            first_facts=(first_license_at, first_delivery_at),
            zone=zone,
        )
        due += [(pk, m) for m in rules.months_ended_since(start, at=at, zone=zone)]
    if not due:
        return []
    invoiced = set(
        Invoice.objects.filter(month__gte=min(m for _, m in due)).values_list(
            "company_id", "month"
        )
    )
    return sorted(
        ((pk, m) for pk, m in due if (pk, m) not in invoiced), key=lambda d: d[1]
    )


def invoices_finalize_due(*, at: datetime, grace: timedelta) -> list[int]:
    """Drafts whose month ended more than ``grace`` ago (late webhooks have landed)."""
    return list(
        Invoice.objects.filter(status=Invoice.Status.DRAFT, period_end__lte=at - grace)
        .order_by("period_end", "pk")
        .values_list("pk", flat=True)
    )
