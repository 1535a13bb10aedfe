"""An invoice's lines and totals from its charges summed by group (D1, C7, F3):
one function for the invoice and for the month so far, so both give the same
numbers. Pure: no database (the groups come from ``selectors.charge_groups``).

A group is a dict: ``orig`` (the month the charges were delivered in, company
zone), ``category``, ``market_id``, ``market_name``, ``rate`` (Decimal or None),
``tier_id``, ``tier_from``, ``billable`` and ``n`` (how many charges).
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from . import rules
from .exceptions import RateMissing
from .money import quantize_money


@dataclass(frozen=True)
class Totals:
    lines: list  # unsaved InvoiceLine, in position order
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    free_templates: int


def _order(group: dict) -> tuple:
    # The rate card's messages (no tier) first.
    tier = group["tier_from"]
    return (
        group["category"],
        group["market_name"],
        tier is not None,
        tier or 0,
        group["rate"],
    )


def rate_missing_check(*, company, groups: list[dict]) -> None:
    """Charged messages without a rate block the invoice (C6)."""
    missing = sorted(
        {
            (g["category"], g["market_name"])
            for g in groups
            if g["billable"] and g["rate"] is None
        }
    )
    if missing:
        names = "; ".join(f"{c} in {m}" for c, m in missing)
        raise RateMissing(
            f"{company} has charged messages without a rate in "
            f"{company.billing_currency}: {names}. "
            "Add the rates to the company's or the price list's rate card."
        )


def invoice_totals(*, company, month: date, fee, groups: list[dict]) -> Totals:
    """D1: the license line, one usage line per (category, market, rate, tier) of
    the month's charges, the carried-over lines (C7) naming their month, tax."""
    from .models import InvoiceLine

    currency = company.billing_currency
    rate_missing_check(company=company, groups=groups)
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
    billable = [g for g in groups if g["billable"]]
    for row in sorted((g for g in billable if g["orig"] == month), key=_order):
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
    carried = [g for g in billable if g["orig"] != month]
    for row in sorted(carried, key=lambda g: (g["orig"], *_order(g))):
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.CARRIED_OVER,
                description=f"Carried over from {row['orig']:%B %Y}: "
                + _usage_description(row, lower=True),
                category=row["category"],
                market_id=row["market_id"],
                quantity=Decimal(row["n"]),
                unit_price=row["rate"],
                amount=quantize_money(row["rate"] * row["n"], currency),
                original_month=row["orig"],
                details=_tier_details(row),
            )
        )
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
        line.position = position
    return Totals(
        lines=lines,
        subtotal=subtotal,
        tax=tax,
        total=rules.invoice_total(line.amount for line in lines),
        free_templates=sum(g["n"] for g in groups if not g["billable"]),
    )


def _usage_description(row: dict, *, lower: bool = False) -> str:
    if row["category"] == rules.SERVICE:
        text = f"{'f' if lower else 'F'}ree-form messages, {row['market_name']}"
    else:
        category = row["category"] if lower else row["category"].capitalize()
        text = f"{category} templates, {row['market_name']}"
    if row["tier_id"]:
        text += f" (volume tier from message {row['tier_from']:,} of the month)"
    return text


def _tier_details(row: dict) -> dict:
    """F3: which tier priced the line's messages (none: the rate card)."""
    if not row["tier_id"]:
        return {}
    return {"tier_id": row["tier_id"], "tier_from_message": row["tier_from"]}


def groups_dump(groups: list[dict]) -> list[dict]:
    """Groups as JSON (the month so far's snapshot)."""
    return [
        {
            **g,
            "orig": g["orig"].isoformat(),
            "rate": None if g["rate"] is None else str(g["rate"]),
        }
        for g in groups
    ]


def groups_load(data: list[dict]) -> list[dict]:
    return [
        {
            **g,
            "orig": date.fromisoformat(g["orig"]),
            "rate": None if g["rate"] is None else Decimal(g["rate"]),
        }
        for g in data
    ]


def groups_add(groups: list[dict], delta: list[dict], sign: int) -> list[dict]:
    """``groups`` plus (sign 1) or minus (sign -1) ``delta``; empty groups go."""
    key = ("orig", "category", "market_id", "rate", "tier_id", "billable")
    by_key = {tuple(g[k] for k in key): dict(g) for g in groups}
    for g in delta:
        k = tuple(g[k] for k in key)
        if k in by_key:
            by_key[k]["n"] += sign * g["n"]
        else:
            by_key[k] = {**g, "n": sign * g["n"]}
    return [g for g in by_key.values() if g["n"]]
