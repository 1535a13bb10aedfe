"""Reads of spend alerts (F5): the companies to check, and a budget's state for the
portal."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count

from accounts.models import Company
from accounts.periods import month_of

from ..models import MonthlyBudget, SpendAlert
from ..rules import alerts as alert_rules
from ..rules.alerts import THRESHOLDS


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
