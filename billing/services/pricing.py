"""Charge policies (F1) and volume tiers (F3): the services Customer Success use to change
how a company is charged from a date.

Finalized invoices never change (D2), so a change may not start inside a month that is
already finalized: it would split that month's deliveries between a frozen past and a
recomputed present."""

from dataclasses import fields as dataclass_fields
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.locks import company_lock
from accounts.models import Company, User

from .. import rules
from ..exceptions import InvalidPricing
from ..locks import charge_policy_lock
from ..models import (
    ChargePolicy,
    ChargePolicyAssignment,
    Invoice,
    Market,
    VolumeTier,
)
from ..selectors.pricing import charge_policy_billed
from .rate_cards import rate_parse


def _frozen_until(*, company: Company | None) -> datetime | None:
    """The end of the latest finalized (or paid, void) invoice period."""
    invoices = Invoice.objects.filter(status__in=Invoice.FROZEN)
    if company is not None:
        invoices = invoices.filter(company=company)
    return invoices.aggregate(end=Max("period_end"))["end"]


@transaction.atomic
def charge_policy_assign(
    *,
    company: Company | None,
    policy: ChargePolicy,
    effective_from: datetime,
    actor: User | None,
    note: str = "",
) -> ChargePolicyAssignment:
    """F1: put a company (or, with None, every company without its own policy)
    on ``policy`` from ``effective_from``. Drafts recomputed afterwards apply
    each policy to the deliveries of its own period."""
    if timezone.is_naive(effective_from):
        raise InvalidPricing("Give the instant the policy starts with its time zone.")
    if company is not None:
        company = company_lock(company)
    frozen = _frozen_until(company=company)
    if frozen is not None and effective_from < frozen:
        raise InvalidPricing(
            f"A policy cannot start on {effective_from:%Y-%m-%d %H:%M} UTC: invoices "
            f"up to {frozen:%Y-%m-%d %H:%M} UTC are finalized and never change. "
            "Start it at or after that instant, or correct the past with a credit note."
        )
    exists = ChargePolicyAssignment.objects.filter(
        company=company, effective_from=effective_from
    ).exists()
    if exists:
        raise InvalidPricing(
            f"A policy already starts at {effective_from:%Y-%m-%d %H:%M} UTC for "
            f"{company or 'every company'}."
        )
    return ChargePolicyAssignment.objects.create(
        company=company,
        policy=policy,
        effective_from=effective_from,
        created_by=actor,
        note=note.strip()[:300],
    )


# F1: a policy's terms are the fields of rules.PolicyTerms, stored on ChargePolicy.
POLICY_TERMS = tuple(field.name for field in dataclass_fields(rules.PolicyTerms))
POLICY_FIELDS = ("name", "description", *POLICY_TERMS)


def _policy_values(values: dict) -> dict:
    unknown = sorted(set(values) - set(POLICY_FIELDS))
    if unknown:
        raise InvalidPricing(f"Unknown charge policy fields: {', '.join(unknown)}.")
    values = dict(values)
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
        if not values["name"]:
            raise InvalidPricing("Give the policy a name.")
    category = values.get("service_rate_category")
    if category is not None and category not in rules.CATEGORIES[:3]:
        raise InvalidPricing(f"Unknown rate category {category!r}.")
    return values


def _policy_name_free(name: str, *, exclude: int | None = None) -> None:
    if ChargePolicy.objects.filter(name=name).exclude(pk=exclude).exists():
        raise InvalidPricing(f"A charge policy named {name!r} already exists.")


@transaction.atomic
def charge_policy_create(*, actor: User | None, **values) -> ChargePolicy:
    """F1: a new charge policy (the contract's terms unless given); it applies to
    nobody until assigned (``charge_policy_assign``)."""
    values = _policy_values(values)
    _policy_name_free(values.get("name", ""))
    if "name" not in values:
        raise InvalidPricing("Give the policy a name.")
    return ChargePolicy.objects.create(created_by=actor, **values)


@transaction.atomic
def charge_policy_update(
    *, policy: ChargePolicy, actor: User | None, **values
) -> ChargePolicy:
    """F1: change a policy's name, description or terms; refused once a finalized
    invoice billed a charge under it (``rules.policy_editable``): its totals were
    computed with these terms, so they stay true. Nothing changes when refused."""
    policy = charge_policy_lock(policy.pk)
    values = _policy_values(values)
    if not rules.policy_editable(
        billed_on_finalized_invoice=charge_policy_billed(policy=policy)
    ):
        raise InvalidPricing(
            f"{policy} was used by a finalized invoice and can no longer change; "
            "create a new policy and assign it from a date instead."
        )
    if "name" in values:
        _policy_name_free(values["name"], exclude=policy.pk)
    for field, value in values.items():
        setattr(policy, field, value)
    policy.save(update_fields=list(values) or None)
    return policy


# The largest message number the column holds (a PositiveIntegerField).
TIER_START_MAX = 2_147_483_647


def _parse_tiers(tiers) -> list[tuple[int, Decimal]]:
    parsed: list[tuple[int, Decimal]] = []
    for start, raw in tiers:
        try:
            start = int(start)
        except (TypeError, ValueError):
            raise InvalidPricing(f"Tier {start!r}: not a message number.") from None
        if start < 1:
            raise InvalidPricing("A tier starts at message 1 or later.")
        if start > TIER_START_MAX:
            raise InvalidPricing(f"Tier {start}: the message number is too large.")
        rate, problem = rate_parse(str(raw).strip())
        if problem:
            raise InvalidPricing(f"Tier from message {start}: {problem}.")
        parsed.append((start, rate))
    starts = [s for s, _ in parsed]
    if len(set(starts)) != len(starts):
        raise InvalidPricing("Two tiers start at the same message.")
    return sorted(parsed)


@transaction.atomic
def volume_tiers_set(
    *,
    company: Company,
    market: Market,
    category: str,
    effective_from: date,
    tiers,
    actor: User | None,
) -> list[VolumeTier]:
    """F3: the graduated tiers of (company, market, category) from a month on,
    replacing any set that starts that same month; an empty list removes the
    tiers from that month (the rate card applies again)."""
    if category not in rules.TIERED_CATEGORIES:
        raise InvalidPricing(
            "Volume tiers apply to utility and authentication templates."
        )
    if effective_from.day != 1:
        raise InvalidPricing("Tiers start on the first day of a month.")
    company = company_lock(company)
    parsed = _parse_tiers(tiers)
    start, _ = rules.month_bounds(effective_from, company.zone)
    frozen = _frozen_until(company=company)
    if frozen is not None and start < frozen:
        raise InvalidPricing(
            f"{effective_from:%B %Y} is already invoiced and finalized for {company}: "
            "tiers can start with the first month not finalized yet."
        )
    VolumeTier.objects.filter(
        company=company, market=market, category=category, effective_from=effective_from
    ).delete()
    if not parsed:
        # One row without a start or a rate ends the set in force before.
        VolumeTier.objects.create(
            company=company,
            market=market,
            category=category,
            currency=company.billing_currency,
            from_message=None,
            rate=None,
            effective_from=effective_from,
            created_by=actor,
        )
        return []
    return VolumeTier.objects.bulk_create(
        [
            VolumeTier(
                company=company,
                market=market,
                category=category,
                currency=company.billing_currency,
                from_message=from_message,
                rate=rate,
                effective_from=effective_from,
                created_by=actor,
            )
            for from_message, rate in parsed
        ]
    )
