"""Spend alerts (F5): company admins set a monthly budget and get an email when the
month so far reaches 50 %, 80 % and 100 % of it (``billing.rules.alerts``).

Delivery is at most once: the ``SpendAlert`` row (unique per company, month and
threshold) is written under the company's lock and the email leaves on commit; a mail
failure is logged and kept on the row, not retried."""

import logging
from datetime import datetime
from decimal import Decimal

from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
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
from accounts.selectors import admin_recipients, company_email_language

from .. import selectors
from ..exceptions import BudgetNotAllowed, InvalidBudget
from ..models import MonthlyBudget, SpendAlert
from ..money import currency_exponent
from ..rules import alerts as alert_rules
from ..rules.alerts import BudgetProblem
from .usage import usage_sync

logger = logging.getLogger(__name__)


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
        usage_sync(company=company)
        preview = selectors.month_so_far(company=company, at=at)
    except DomainError as exc:
        # Missing rates or prices: the invoice cannot be computed, nor its total.
        logger.warning("Spend alerts of %s skipped: %s", company.pk, exc.message)
        return []
    if preview.unpriced:
        # C6: charged without a rate yet; the priced part is checked (a floor).
        logger.warning(
            "Spend alerts of %s compare the priced part: %s without a rate yet",
            company.pk,
            "; ".join(
                f"{u.messages} {u.category} in {u.market}" for u in preview.unpriced
            ),
        )
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
    """One email per recipient of ``alert`` (the highest threshold reached), each
    in the recipient's language (``accounts.selectors.admin_recipients``)."""
    company = alert.company
    known = {r.email: r for r in admin_recipients(company=company)}
    fallback = company_email_language(company=company)
    messages = []
    for email in alert.recipients:
        recipient = known.get(email)
        with translation.override(recipient.language if recipient else fallback):
            context = {
                "company": company,
                "month": date_format(alert.month, "YEAR_MONTH_FORMAT"),
                "threshold": Decimal(alert.threshold) / 100,
                "thresholds": [Decimal(t) / 100 for t in thresholds],
                "spent": alert.spent,
                "budget": alert.budget,
                "currency": alert.currency,
                "used": alert_rules.budget_used(budget=alert.budget, spent=alert.spent),
                "path": reverse("billing:usage"),
                "name": recipient.name if recipient else "",
            }
            subject = " ".join(
                render_to_string("emails/spend_alert_subject.txt", context).split()
            )
            body = render_to_string("emails/spend_alert.txt", context)
        messages.append(EmailMessage(subject=subject, body=body, to=[email]))
    return messages
