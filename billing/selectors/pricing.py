"""Reads of how a company is charged: its charge policies over time (F1) and the volume
tiers in force (F3)."""

from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import date, datetime

from django.db.models import (
    Q,
)

from accounts.models import Company

from .. import rules
from ..models import (
    Charge,
    ChargePolicy,
    ChargePolicyAssignment,
    Invoice,
    VolumeTier,
)
from ..policies import SINCE_EVER


@dataclass(frozen=True)
class PolicyStep:
    since: datetime | None  # None: from the beginning of time
    policy_id: int | None  # None: the contract's rules
    terms: rules.PolicyTerms


def policy_timeline(*, company: Company) -> list[PolicyStep]:
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
        PolicyStep(since, pk, terms[pk] if pk else rules.CONTRACT_TERMS)
        for since, pk in steps
    ]


def policy_terms(policy: ChargePolicy) -> rules.PolicyTerms:
    return rules.PolicyTerms(
        **{
            field.name: getattr(policy, field.name)
            for field in dataclass_fields(rules.PolicyTerms)
        }
    )


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


def charge_policy_billed(*, policy: ChargePolicy) -> bool:
    """Whether a finalized (or paid, void) invoice billed a charge under ``policy``."""
    return Charge.objects.filter(
        policy=policy, invoice__status__in=Invoice.FROZEN
    ).exists()


@dataclass(frozen=True)
class PolicyPeriod:
    since: datetime | None
    until: datetime | None
    policy: ChargePolicy | None  # None: the contract's rules
    terms: rules.PolicyTerms
    own: bool  # the company's own assignment, not the default


def policy_periods(*, company: Company) -> list[PolicyPeriod]:
    """F1: the company's charge policies over time, oldest first."""
    timeline = policy_timeline(company=company)
    policies = ChargePolicy.objects.in_bulk(
        [s.policy_id for s in timeline if s.policy_id]
    )
    own = set(
        ChargePolicyAssignment.objects.filter(company=company).values_list(
            "policy_id", "effective_from"
        )
    )
    periods = []
    for i, step in enumerate(timeline):
        until = timeline[i + 1].since if i + 1 < len(timeline) else None
        periods.append(
            PolicyPeriod(
                since=step.since,
                until=until,
                policy=policies.get(step.policy_id),
                terms=step.terms,
                own=(step.policy_id, step.since) in own,
            )
        )
    if len(periods) > 1 and periods[1].since <= SINCE_EVER:
        # The contract "before any assignment" ends when the seeded default
        # starts (2000): nothing was ever billed then, so the default starts it.
        first = periods[1]
        periods[:2] = [
            PolicyPeriod(None, first.until, first.policy, first.terms, first.own)
        ]
    return periods


def tiers_in_force(*, company: Company, month: date) -> list[VolumeTier]:
    """F3: the tiers that price ``month``, per market and category."""
    ids = [
        t.id
        for tiers in tier_sets(company=company, month=month).values()
        for t in tiers
    ]
    return list(
        VolumeTier.objects.filter(pk__in=ids)
        .select_related("market")
        .order_by("market__name", "category", "from_message")
    )


def tiers_upcoming(*, company: Company, after: date) -> list[VolumeTier]:
    """F3: tiers agreed for later months (an end marker is not a tier)."""
    return list(
        VolumeTier.objects.filter(company=company, effective_from__gt=after)
        .exclude(from_message__isnull=True)
        .select_related("market")
        .order_by("effective_from", "market__name", "category", "from_message")
    )
