"""The invoice as a document a customer reads: its due date and the status a
customer understands (product rule F7, after D2's draft → finalized → paid or void).

Pure: the instant to judge at and the company's zone are arguments.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from ..money import ZERO

# Payment terms bounds (days after the issue date), for the issuer record.
PAYMENT_TERMS_MAX_DAYS = 365


class CustomerStatus:
    """What the customer is told about an invoice (F7)."""

    DRAFT = "draft"  # an estimate, recomputed until finalized; not yet due
    OPEN = "open"  # finalized, to be paid by its due date
    OVERDUE = "overdue"  # finalized, unpaid, its due date has passed
    PAID = "paid"
    VOID = "void"

    ALL = (DRAFT, OPEN, OVERDUE, PAID, VOID)


def due_date(*, issued_on: date, terms_days: int) -> date:
    """F7: the due date is the issue date (in the company's zone) plus the
    payment terms in days; terms of 0 days are due on the issue date."""
    if terms_days < 0:
        raise ValueError("Payment terms cannot be negative.")
    return issued_on + timedelta(days=terms_days)


def local_date(at: datetime, zone: tzinfo) -> date:
    """The calendar day an aware instant falls on in a zone."""
    return at.astimezone(zone).date()


def is_overdue(*, due: date | None, at: datetime, zone: tzinfo) -> bool:
    """F7: unpaid past its due date. The due date itself is still on time: an
    invoice is overdue from 00:00 of the next day in the company's zone."""
    return due is not None and local_date(at, zone) > due


def customer_status(
    *, status: str, due: date | None, at: datetime, zone: tzinfo
) -> str:
    """F7: the customer's status of an invoice of D2 ``status`` (draft,
    finalized, paid, void) judged at ``at`` in the company's ``zone``."""
    if status == "finalized":
        if is_overdue(due=due, at=at, zone=zone):
            return CustomerStatus.OVERDUE
        return CustomerStatus.OPEN
    if status in (CustomerStatus.DRAFT, CustomerStatus.PAID, CustomerStatus.VOID):
        return status
    raise ValueError(f"Unknown invoice status {status!r}.")


@dataclass(frozen=True)
class Balance:
    credits_applied: Decimal
    amount_paid: Decimal
    amount_due: Decimal | None  # None: nothing is owed on a draft or a void


def invoice_balance(
    *, status: str, total: Decimal, credits: Iterable[Decimal]
) -> Balance:
    """F7 with D2: what was credited, paid and is left to pay of an invoice.

    A finalized invoice owes its total less its credit notes (never below 0); a
    paid one was paid that in full and owes nothing; a draft (an estimate) and a
    void invoice owe nothing yet or any more.
    """
    credited = sum(credits, ZERO)
    left = max(total - credited, ZERO)
    if status == "finalized":
        return Balance(credited, ZERO, left)
    if status == "paid":
        return Balance(credited, left, ZERO)
    return Balance(credited, ZERO, None)
