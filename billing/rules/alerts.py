"""Spend alert rules (F5), as pure functions: which budget thresholds a month's running
total has crossed, and which amounts may be a budget.

``billing.alerts`` applies them to the month so far (the same total as the portal's
"This month so far") and records what it sent."""

from decimal import Decimal

# Percentages of the monthly budget that trigger an email, once each per month.
THRESHOLDS = (50, 80, 100)


# The budget column holds 16 digits with 4 decimals: at most 12 integer digits.
BUDGET_LIMIT = Decimal("1000000000000")


class BudgetProblem:
    """Why an amount cannot be a monthly budget (``budget_amount_problem``)."""

    NOT_FINITE = "not_finite"
    NOT_POSITIVE = "not_positive"
    TOO_PRECISE = "too_precise"
    TOO_LARGE = "too_large"


def thresholds_crossed(
    *, budget: Decimal, spent: Decimal, already: set[int]
) -> list[int]:
    """Return the thresholds (ascending) that ``spent`` has reached and that were
    not notified yet this month (``already``).

    Reaching a threshold exactly counts as crossing it: 50.00 of a 100.00 budget
    crosses 50 %. Thresholds notified earlier in the month are never returned
    again, even if the budget was raised above the total since then.
    """
    if budget <= 0:
        raise ValueError(f"A budget must be positive, not {budget}")
    # Compare spent × 100 with budget × threshold: exact in Decimal, no division.
    return [
        threshold
        for threshold in THRESHOLDS
        if threshold not in already and spent * 100 >= budget * threshold
    ]


def budget_used(*, budget: Decimal, spent: Decimal) -> Decimal:
    """Return the fraction of the budget spent (0.5 for half; above 1 when over)."""
    if budget <= 0:
        raise ValueError(f"A budget must be positive, not {budget}")
    return max(spent, Decimal("0")) / budget


def budget_amount_problem(*, amount: Decimal, exponent: int) -> str | None:
    """Return why ``amount`` cannot be a budget in a currency whose minor unit has
    ``exponent`` decimals (EUR 2, JPY 0, KWD 3), or None if it can.

    A budget is positive, has no more decimals than the currency's minor unit
    (trailing zeros do not count: 500.00 is a valid JPY budget) and fits the column.
    """
    if not amount.is_finite():
        return BudgetProblem.NOT_FINITE
    if amount <= 0:
        return BudgetProblem.NOT_POSITIVE
    if amount >= BUDGET_LIMIT:
        return BudgetProblem.TOO_LARGE
    if -amount.normalize().as_tuple().exponent > exponent:
        return BudgetProblem.TOO_PRECISE
    return None
