"""Billing runs on demand (D3): the ``run_billing`` command and the admin button.

The same services as the scheduled Celery run (``invoice_compute``, then optionally
``invoice_finalize``), one company at a time, each in its own transaction, reporting
per company what was done. Re-running is harmless: drafts are recomputed, frozen
invoices are left alone."""

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.utils import timezone

from accounts.exceptions import DomainError
from accounts.models import Company
from accounts.periods import month_bounds

from .. import rules
from ..exceptions import MonthNotEnded
from ..models import BillingRun, Invoice
from ..money import money_text
from ..rules import previous_month
from .documents import invoice_finalize
from .invoices import invoice_compute

MONTH_FORMAT = "YYYY-MM"


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_parse(text: str) -> date:
    """Return the first day of a ``YYYY-MM`` month; ValueError with a clear message."""
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(
            f"'{text}' is not a month: use {MONTH_FORMAT}, for example 2026-10."
        )
    return date(int(match.group(1)), int(match.group(2)), 1)


class Outcome:
    """What a run did to one company's invoice."""

    CREATED = "draft created"
    RECOMPUTED = "draft recomputed"
    FINALIZED = "finalized"
    FROZEN = "left unchanged"
    NOT_ENDED = "skipped (month not ended)"
    FAILED = "failed"

    ORDER = (CREATED, RECOMPUTED, FINALIZED, FROZEN, NOT_ENDED, FAILED)


@dataclass(frozen=True)
class RunResult:
    company: Company
    month: date
    outcome: str
    invoice: Invoice | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome != Outcome.FAILED

    @property
    def total(self) -> str:
        invoice = self.invoice
        if invoice is None:
            return ""
        return money_text(invoice.total, invoice.currency)

    @property
    def summary(self) -> str:
        """What happened, e.g. "draft recomputed, total 123.45 EUR"."""
        invoice = self.invoice
        if self.outcome == Outcome.FINALIZED:
            return f"finalized {invoice.number}, total {self.total}"
        if self.outcome == Outcome.FROZEN:
            return (
                f"already {invoice.get_status_display().lower()} as {invoice.number}, "
                f"left unchanged, total {self.total}"
            )
        if self.outcome == Outcome.NOT_ENDED:
            return f"skipped: {self.error}"
        if self.outcome == Outcome.FAILED:
            done = f"draft computed, total {self.total}; " if invoice else ""
            return f"{done}failed: {self.error}"
        return f"{self.outcome}, total {self.total}"

    def __str__(self) -> str:
        return f"{self.company.slug} {self.month:%Y-%m}: {self.summary}"


def month_not_ended_message(*, company: Company, month: date) -> str:
    """Why ``month`` cannot be billed yet for ``company``, naming when it ends."""
    _, end = month_bounds(month, company.zone)
    return (
        f"{month:%B %Y} has not ended yet in {company.billing_timezone}: it ends on "
        f"{end.astimezone(company.zone):%Y-%m-%d %H:%M} there "
        f"({end:%Y-%m-%d %H:%M} UTC); nothing was computed."
    )


def billing_run_company(
    *, company: Company, month: date, finalize: bool = False, at: datetime
) -> RunResult:
    """Compute the company's invoice of ``month`` and, if asked, finalize it.

    A month that has not ended in the company's time zone is skipped (D3: an
    invoice is computed after its month ends; a draft of the month in progress
    would be shown to the customer). A ``DomainError`` (a missing rate or license
    price) is reported in the result; the failing step changed nothing.
    """
    month = date(month.year, month.month, 1)
    if not rules.month_has_ended(month, at=at, zone=company.zone):
        return RunResult(
            company,
            month,
            Outcome.NOT_ENDED,
            error=month_not_ended_message(company=company, month=month),
        )
    existed = Invoice.objects.filter(company=company, month=month).exists()
    try:
        invoice = invoice_compute(company=company, month=month)
    except DomainError as exc:
        return RunResult(company, month, Outcome.FAILED, error=exc.message)
    if invoice.is_frozen:
        return RunResult(company, month, Outcome.FROZEN, invoice)
    if finalize:
        try:
            invoice = invoice_finalize(invoice=invoice, at=at)
        except DomainError as exc:
            return RunResult(company, month, Outcome.FAILED, invoice, exc.message)
        return RunResult(company, month, Outcome.FINALIZED, invoice)
    return RunResult(
        company, month, Outcome.RECOMPUTED if existed else Outcome.CREATED, invoice
    )


def billing_run(
    *,
    month: date | None = None,
    company: Company | None = None,
    finalize: bool = False,
    at: datetime | None = None,
    triggered_by: str = "",
) -> list[RunResult]:
    """D3: compute (and optionally finalize) every company's invoice of a month.

    Without ``month``, each company gets the last month that has ended in its
    billing time zone. Only ``company`` when given. A ``month`` that has not
    ended in the zone of ``company`` (or of every company) raises
    ``MonthNotEnded`` and nothing is recorded; without ``company``, the companies
    whose month has not ended yet are skipped, each with a line saying when it
    ends. The run and its per-company report are recorded as a ``BillingRun``.
    """
    at = at or timezone.now()
    companies = [company] if company else list(Company.objects.order_by("slug"))
    if month is not None:
        month = date(month.year, month.month, 1)
        pending = [
            c for c in companies if not rules.month_has_ended(month, at=at, zone=c.zone)
        ]
        if pending and len(pending) == len(companies):
            if company is not None:
                raise MonthNotEnded(
                    month_not_ended_message(company=company, month=month)
                )
            first = min(companies, key=lambda c: month_bounds(month, c.zone)[1])
            raise MonthNotEnded(
                f"{month:%B %Y} has not ended yet in any company's time zone. "
                + month_not_ended_message(company=first, month=month)
            )
    run = BillingRun.objects.create(
        month=month or previous_month(at, UTC),
        triggered_by=triggered_by[:200],
        companies=len(companies),
    )
    results: list[RunResult] = []
    try:
        for each in companies:
            results.append(
                billing_run_company(
                    company=each,
                    month=month or previous_month(at, each.zone),
                    finalize=finalize,
                    at=at,
                )
            )
    finally:
        failed = len(results) < len(companies) or not all(r.ok for r in results)
        run.status = BillingRun.Status.FAILED if failed else BillingRun.Status.DONE
        run.finished_at = timezone.now()
        run.log = [str(r) for r in results]
        run.save(update_fields=["status", "finished_at", "log"])
    return results


def run_summary(results: list[RunResult]) -> str:
    """One line for a run, e.g. "3 companies: 2 draft recomputed, 1 failed"."""
    counts = Counter(r.outcome for r in results)
    parts = [f"{counts[o]} {o}" for o in Outcome.ORDER if counts[o]]
    n = len(results)
    return f"{n} compan{'ies' if n != 1 else 'y'}: " + (
        ", ".join(parts) or "nothing to do"
    )
