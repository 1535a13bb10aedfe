"""Charge policies over time (F1): which policy is in force, and when a policy may
still be edited."""

from collections.abc import Sequence
from datetime import datetime


def policy_editable(*, billed_on_finalized_invoice: bool) -> bool:
    """F1, D2: a charge policy's terms may change only until a finalized invoice
    was billed under them (its totals must stay explainable by the terms)."""
    return not billed_on_finalized_invoice


def policy_in_force(
    *,
    own: Sequence[tuple[datetime, int]],
    default: Sequence[tuple[datetime, int]],
    at: datetime,
) -> int | None:
    """F1: the policy (id) in force at ``at``: the company's latest assignment
    effective by then, else the latest default one, else None (the contract)."""
    for assignments in (own, default):
        started = [(since, pk) for since, pk in assignments if since <= at]
        if started:
            return max(started)[1]
    return None


def policy_segments(
    *,
    own: Sequence[tuple[datetime, int]],
    default: Sequence[tuple[datetime, int]],
) -> list[tuple[datetime | None, int | None]]:
    """F1: the policy timeline as (from, policy) steps, the first from the
    beginning of time (None); each policy applies until the next step."""
    steps: list[tuple[datetime | None, int | None]] = [(None, None)]
    for since in sorted({s for s, _ in own} | {s for s, _ in default}):
        policy = policy_in_force(own=own, default=default, at=since)
        if policy != steps[-1][1]:
            steps.append((since, policy))
    return steps
