"""Spend alerts: a company's monthly budget and the emails at 50, 80 and 100 % of it.

The running total is the portal's "This month so far" estimated total:
``invoice_preview(...).invoice.total`` of the current month in the company's
billing time zone (tax included), computed by the same code as the invoice.

Delivery is **at most once** per (company, month, threshold). The SpendAlert row
is created in the transaction that decides to send, under the company's row lock
and a unique constraint, and the email leaves on commit. If the mail backend
fails, the row stays, the failure is logged and kept on the row for Customer
Success, and the email is not retried. At least once would mean sending before
recording (or retrying after a failure that may have half-sent): a crash between
sending and committing, or an SMTP error after the server accepted the message,
repeats the email. A repeated "you have spent 100 %" email is worse than a missed
one here: the budget bar on the usage page shows every threshold crossed (and the
ones whose alert is still due) whatever happened to the email.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.exceptions import DomainError
from accounts.locks import company_lock
from accounts.models import Company, User
from accounts.periods import month_of

from .models import Invoice, InvoiceLine, MonthlyBudget, SpendAlert
from .money import currency_exponent
from .rules import alerts as alert_rules
from .rules.alerts import THRESHOLDS, BudgetProblem
from .services import invoice_preview

logger = logging.getLogger(__name__)


class InvalidBudget(DomainError):
    code = "invalid_budget"


class BudgetNotAllowed(DomainError):
    code = "budget_not_allowed"


BUDGET_ERRORS = {
    BudgetProblem.NOT_FINITE: _("Enter a number."),
    BudgetProblem.NOT_POSITIVE: _("The budget must be more than zero."),
    BudgetProblem.TOO_LARGE: _("The budget is too large."),
}
BUDGET_NOT_ALLOWED = _("Only the company's admins and Customer Success set its budget.")


def budget_error_message(*, problem: str, currency: str) -> str:
    """The reader's-language message for a ``BudgetProblem`` in ``currency``."""
    if problem == BudgetProblem.TOO_PRECISE:
        places = currency_exponent(currency)
        if places == 0:
            return str(
                _("%(currency)s has no minor unit: enter a whole amount.")
                % {"currency": currency}
            )
        return ngettext(
            "Use at most %(places)d decimal place for %(currency)s.",
            "Use at most %(places)d decimal places for %(currency)s.",
            places,
        ) % {"places": places, "currency": currency}
    return str(BUDGET_ERRORS[problem])


def budget_validate_amount(*, amount: Decimal, currency: str) -> None:
    """Raise InvalidBudget unless ``amount`` can be a monthly budget in ``currency``."""
    problem = alert_rules.budget_amount_problem(
        amount=amount, exponent=currency_exponent(currency)
    )
    if problem is not None:
        raise InvalidBudget(
            budget_error_message(problem=problem, currency=currency), problem=problem
        )


# --- The budget ------------------------------------------------------------------


@transaction.atomic
def budget_set(
    *, company: Company, amount: Decimal | None, actor: User | None
) -> MonthlyBudget:
    """Set (or with ``amount=None`` clear) the company's monthly budget.

    The budget is in the company's billing currency. Alerts already sent this
    month stay sent: raising the budget above the total does not re-send them.
    ``actor`` is one of the company's admins, Customer Success staff, or None
    (scripts).
    """
    company = company_lock(company)
    if actor is not None and not (
        actor.is_staff or (actor.company_id == company.pk and actor.is_company_admin)
    ):
        raise BudgetNotAllowed(str(BUDGET_NOT_ALLOWED))
    currency = company.billing_currency
    if amount is not None:
        budget_validate_amount(amount=amount, currency=currency)
    budget, _ = MonthlyBudget.objects.update_or_create(
        company=company,
        defaults={
            "amount": amount,
            "currency": currency,
            "updated_by": actor,
            "updated_at": timezone.now(),
        },
    )
    return budget


# --- The check -----------------------------------------------------------------------


def _unsettled_months(company: Company, lines: list[InvoiceLine]) -> set[date]:
    """Months carried into the preview that have no invoice of their own yet.

    Right after a month ends and before the billing run computes its draft, the
    new month's preview carries the whole previous month (C7 applies only to
    months already invoiced). That total is about to shrink; alerting on it would
    tell every company it spent its new month's budget at midnight.
    """
    months = {
        line.original_month
        for line in lines
        if line.kind == InvoiceLine.Kind.CARRIED_OVER
    }
    if not months:
        return set()
    invoiced = set(
        Invoice.objects.filter(company=company, month__in=months).values_list(
            "month", flat=True
        )
    )
    return months - invoiced


def _admins(company: Company) -> list[tuple[str, str]]:
    return list(
        User.objects.filter(
            company=company, role=User.Role.COMPANY_ADMIN, is_active=True
        )
        .order_by("email")
        .values_list("email", "full_name")
    )


@transaction.atomic
def spend_alerts_check(*, company: Company, at: datetime) -> list[SpendAlert]:
    """Record and email the budget thresholds the month so far has newly crossed.

    Returns the alerts recorded by this call (none when there is no budget, or
    every crossed threshold was already notified this month). The email to the
    company's admins leaves after commit, one per admin naming the highest
    threshold reached; see the module docstring for why at most once.
    """
    # The company's row lock serialises overlapping checks (PostgreSQL); the
    # unique constraint below is the backstop everywhere.
    company = company_lock(company)
    budget = MonthlyBudget.objects.filter(company=company).first()
    if budget is None or budget.amount is None:
        return []
    if budget.currency != company.billing_currency:
        logger.warning(
            "Spend alerts of %s skipped: the budget is in %s, invoices in %s",
            company.pk,
            budget.currency,
            company.billing_currency,
        )
        return []
    month = month_of(at, company.zone)
    try:
        preview = invoice_preview(company=company, month=month)
    except DomainError as exc:
        # Missing rates or prices: the invoice cannot be computed, nor its total.
        logger.warning("Spend alerts of %s skipped: %s", company.pk, exc.message)
        return []
    unsettled = _unsettled_months(company, preview.lines)
    if unsettled:
        logger.info(
            "Spend alerts of %s wait for the billing run of %s",
            company.pk,
            ", ".join(f"{m:%Y-%m}" for m in sorted(unsettled)),
        )
        return []
    spent = preview.invoice.total
    already = set(
        SpendAlert.objects.filter(company=company, month=month).values_list(
            "threshold", flat=True
        )
    )
    crossed = alert_rules.thresholds_crossed(
        budget=budget.amount, spent=spent, already=already
    )
    if not crossed:
        return []
    recipients = _admins(company)
    alerts = []
    for threshold in crossed:
        try:
            with transaction.atomic():
                alerts.append(
                    SpendAlert.objects.create(
                        company=company,
                        month=month,
                        threshold=threshold,
                        spent=spent,
                        budget=budget.amount,
                        currency=budget.currency,
                        sent_at=at,
                        recipients=[email for email, _ in recipients],
                    )
                )
        except IntegrityError:
            continue  # recorded by an overlapping check, which sends it
    if alerts and recipients:
        ids = [a.pk for a in alerts]
        transaction.on_commit(
            lambda: spend_alert_email_send(alert_ids=ids), robust=True
        )
    return alerts


def spend_alert_email_send(*, alert_ids: list[int]) -> int:
    """Email the company's admins about the alerts recorded together; return how
    many emails left. Called on commit; a failure is logged and kept on the
    alerts, never raised and never retried (at most once)."""
    alerts = list(
        SpendAlert.objects.filter(pk__in=alert_ids)
        .select_related("company")
        .order_by("threshold")
    )
    if not alerts:
        return 0
    top = alerts[-1]
    try:
        messages = _spend_alert_emails(top, thresholds=[a.threshold for a in alerts])
        return get_connection().send_messages(messages) or 0
    except Exception as exc:  # noqa: BLE001 - any backend failure is logged and kept
        logger.exception(
            "Spend alert email of company %s for %s (%s %%) failed; not retried",
            top.company_id,
            f"{top.month:%Y-%m}",
            ", ".join(str(a.threshold) for a in alerts),
        )
        SpendAlert.objects.filter(pk__in=alert_ids).update(
            email_error=f"{type(exc).__name__}: {exc}"[:500]
        )
        return 0


def _spend_alert_emails(alert: SpendAlert, *, thresholds: list[int]) -> list:
    """One email per recipient of ``alert`` (the highest threshold reached)."""
    names = dict(_admins(alert.company))
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "company": alert.company,
            "month": date_format(alert.month, "YEAR_MONTH_FORMAT"),
            "threshold": Decimal(alert.threshold) / 100,
            "thresholds": [Decimal(t) / 100 for t in thresholds],
            "spent": alert.spent,
            "budget": alert.budget,
            "currency": alert.currency,
            "used": alert_rules.budget_used(budget=alert.budget, spent=alert.spent),
            "path": reverse("billing:usage"),
        }
        subject = " ".join(
            render_to_string("emails/spend_alert_subject.txt", context).split()
        )
        return [
            EmailMessage(
                subject=subject,
                body=render_to_string(
                    "emails/spend_alert.txt", {**context, "name": names.get(email, "")}
                ),
                to=[email],
            )
            for email in alert.recipients
        ]


# --- Which companies the beat run checks ---------------------------------------------


def spend_alerts_due(*, at: datetime) -> list[int]:
    """Companies with a budget that still have a threshold to notify this month
    (in each company's billing time zone)."""
    months = {
        company_id: month_of(at, ZoneInfo(tz))
        for company_id, tz in MonthlyBudget.objects.filter(
            amount__isnull=False
        ).values_list("company_id", "company__billing_timezone")
    }
    if not months:
        return []
    done = set(
        SpendAlert.objects.filter(company_id__in=months, month__in=set(months.values()))
        .values("company_id", "month")
        .annotate(n=Count("id"))
        .filter(n__gte=len(THRESHOLDS))
        .values_list("company_id", "month")
    )
    return sorted(pk for pk, month in months.items() if (pk, month) not in done)


# --- What the usage page shows -------------------------------------------------------


@dataclass(frozen=True)
class ThresholdState:
    threshold: int
    alert: SpendAlert | None  # the email sent this month, if any
    reached: bool  # reached by the month so far (alerted or not)

    @property
    def fraction(self) -> Decimal:
        return Decimal(self.threshold) / 100


@dataclass(frozen=True)
class BudgetStatus:
    budget: MonthlyBudget
    spent: Decimal
    currency: str  # the invoice's
    thresholds: list[ThresholdState]

    @property
    def amount(self) -> Decimal | None:
        return self.budget.amount

    @property
    def currency_mismatch(self) -> bool:
        return self.budget.currency != self.currency

    @property
    def active(self) -> bool:
        return self.amount is not None and not self.currency_mismatch

    @property
    def used(self) -> Decimal:
        return alert_rules.budget_used(budget=self.amount, spent=self.spent)

    @property
    def bar_width(self) -> int:
        """The bar's width in percent (0-100), whatever the language's digits."""
        return int(min(self.used, Decimal("1")) * 100)

    @property
    def level(self) -> str:
        used = self.used
        if used >= 1:
            return "danger"
        if used >= Decimal("0.8"):
            return "warning"
        return "success"


def budget_status(
    *, company: Company, month: date, spent: Decimal, currency: str
) -> BudgetStatus | None:
    """The company's budget against the month so far, with each threshold's alert.

    Two queries: the budget, and the month's alerts (none without a budget).
    """
    budget = (
        MonthlyBudget.objects.filter(company=company)
        .select_related("updated_by")
        .first()
    )
    if budget is None:
        return None
    alerts = {
        a.threshold: a for a in SpendAlert.objects.filter(company=company, month=month)
    }
    reached = set()
    if budget.amount is not None:
        reached = set(
            alert_rules.thresholds_crossed(
                budget=budget.amount, spent=spent, already=set()
            )
        )
    return BudgetStatus(
        budget=budget,
        spent=spent,
        currency=currency,
        thresholds=[
            ThresholdState(threshold=t, alert=alerts.get(t), reached=t in reached)
            for t in THRESHOLDS
        ],
    )
