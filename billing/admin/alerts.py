"""Spend alerts: monthly budgets (set through ``billing.services.budget_set``) and
the alerts sent, view only."""

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ViewOnlyAdmin

from ..exceptions import InvalidBudget
from ..models import MonthlyBudget, SpendAlert
from ..money import money_text
from ..services.alerts import budget_set, budget_validate_amount
from .base import MonthFilter


class MonthlyBudgetForm(forms.ModelForm):
    class Meta:
        model = MonthlyBudget
        fields = ("company", "amount")
        help_texts = {
            "amount": _(
                "In the company's billing currency, tax included. Empty: no budget "
                "and no spend alerts."
            )
        }

    def clean(self):
        cleaned = super().clean()
        company = cleaned.get("company") or getattr(self.instance, "company", None)
        amount = cleaned.get("amount")
        if company is not None and amount is not None:
            try:
                budget_validate_amount(amount=amount, currency=company.billing_currency)
            except InvalidBudget as exc:
                self.add_error("amount", exc.message)
        return cleaned


@admin.register(MonthlyBudget)
class MonthlyBudgetAdmin(admin.ModelAdmin):
    """Budgets are set by company admins in the portal, or here by Customer Success,
    through the same service; alerts already sent this month are never re-sent."""

    form = MonthlyBudgetForm
    list_display = ("company", "amount_display", "updated_by", "updated_at")
    list_select_related = ("company", "updated_by")
    list_filter = (("amount", admin.EmptyFieldListFilter),)
    search_fields = ("company__name", "company__slug")
    autocomplete_fields = ("company",)

    def get_readonly_fields(self, request, obj=None):
        # A budget belongs to its company for good; the currency is the company's.
        fixed = ("currency", "updated_by", "updated_at")
        return ("company", *fixed) if obj else fixed

    def has_delete_permission(self, request, obj=None):
        return False  # empty the amount instead: who cleared it stays known

    def save_model(self, request, obj, form, change):
        budget = budget_set(company=obj.company, amount=obj.amount, actor=request.user)
        for field in ("pk", "amount", "currency", "updated_by", "updated_at"):
            setattr(obj, field, getattr(budget, field))

    @admin.display(description=_("monthly budget"), ordering="amount")
    def amount_display(self, obj):
        return money_text(obj.amount, obj.currency) if obj.amount is not None else "–"


@admin.register(SpendAlert)
class SpendAlertAdmin(ViewOnlyAdmin):
    """Every budget threshold crossed and who was emailed: history, view only."""

    list_display = (
        "company",
        "month_display",
        "threshold_display",
        "spent_display",
        "budget_display",
        "sent_at",
        "email_status",
    )
    list_filter = ("threshold", MonthFilter, "company")
    list_select_related = ("company",)
    search_fields = ("company__name", "company__slug")
    fields = (
        "company",
        "month",
        "threshold",
        "spent",
        "budget",
        "currency",
        "sent_at",
        "recipients",
        "email_error",
    )

    @admin.display(description=_("month"), ordering="month")
    def month_display(self, obj):
        return f"{obj.month:%Y-%m}"

    @admin.display(description=_("threshold"), ordering="threshold")
    def threshold_display(self, obj):
        return f"{obj.threshold} %"

    @admin.display(description=_("spent"), ordering="spent")
    def spent_display(self, obj):
        return money_text(obj.spent, obj.currency)

    @admin.display(description=_("budget"), ordering="budget")
    def budget_display(self, obj):
        return money_text(obj.budget, obj.currency)

    @admin.display(description=_("email"))
    def email_status(self, obj):
        if obj.email_error:
            return format_html('<span class="error-text">{}</span>', obj.email_error)
        if not obj.recipients:
            return _("no company admin to email")
        return ", ".join(obj.recipients)
