"""Monthly budgets and the spend alerts sent against them (F5)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company, currency_validator

from ..money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from ..rules.alerts import THRESHOLDS


class MonthlyBudget(models.Model):
    """A company's monthly spend budget: its admins get an email when the month so
    far reaches 50 %, 80 % and 100 % of it (billing.rules.alerts)."""

    company = models.OneToOneField(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        related_name="monthly_budget",
    )
    # Empty: no budget, no alerts. Kept (not deleted) so who cleared it stays known.
    # Compared with the invoice total (tax included) of the month so far.
    amount = models.DecimalField(
        _("monthly budget"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    # The company's billing currency when the budget was set; a budget in another
    # currency than the invoices (the company's currency changed) alerts nobody.
    currency = models.CharField(
        _("currency"), max_length=3, validators=[currency_validator]
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("monthly budget")
        verbose_name_plural = _("monthly budgets")
        ordering = ["company__name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__isnull=True) | models.Q(amount__gt=0),
                name="monthlybudget_amount_positive",
            ),
        ]

    def __str__(self) -> str:
        if self.amount is None:
            return f"{self.company}: no budget"
        return f"{self.company}: {self.amount.normalize():f} {self.currency} a month"


class SpendAlert(models.Model):
    """One budget threshold crossed by a company in a month, and its email.

    Recorded in the transaction that decides to send, and sent after commit: at
    most one email per (company, month, threshold), even when runs overlap.
    """

    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        related_name="spend_alerts",
    )
    # First day of the billing month in the company's billing time zone (C7).
    month = models.DateField(_("month"))
    # Percent of the budget: 50, 80 or 100 (rules.alerts.THRESHOLDS).
    threshold = models.PositiveSmallIntegerField(_("threshold (%)"))
    # The month so far (invoice total, tax included) and the budget when crossed.
    spent = models.DecimalField(
        _("spent"), max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    budget = models.DecimalField(
        _("budget"), max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    currency = models.CharField(_("currency"), max_length=3)
    # When the crossing was recorded; the email leaves right after that commit.
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)
    # The company admins the email was addressed to.
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    # Set when the mail backend refused the email; it is not retried (at most once).
    email_error = models.CharField(_("email error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("spend alert")
        verbose_name_plural = _("spend alerts")
        ordering = ["-month", "company__name", "threshold"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "month", "threshold"],
                name="spendalert_once_per_month",
            ),
            models.CheckConstraint(
                condition=models.Q(threshold__in=THRESHOLDS),
                name="spendalert_threshold_known",
            ),
            models.CheckConstraint(
                condition=models.Q(budget__gt=0), name="spendalert_budget_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} {self.month:%Y-%m}: {self.threshold} %"
