"""Forms of the customer portal's billing pages: they collect input; the services
decide (``billing.services.budget_set`` validates again)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from ..exceptions import InvalidBudget
from ..services.alerts import budget_validate_amount


class BudgetForm(forms.Form):
    """Set, change or (empty, or the "Remove" button) clear the monthly budget."""

    CLEAR = "clear"

    amount = forms.DecimalField(
        label=_("Monthly budget"),
        required=False,
        localize=True,  # 1234,50 in Spanish, 1234.50 in English
        help_text=_("Empty: no budget and no alerts."),
    )

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        if self.data.get(self.CLEAR):
            # "Remove" ignores whatever is left in the box.
            self.data = self.data.copy()
            self.data[self.add_prefix("amount")] = ""
        self.currency = currency
        self.fields["amount"].widget.attrs.update(
            {"inputmode": "decimal", "autocomplete": "off"}
        )

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is None:
            return None
        try:
            budget_validate_amount(amount=amount, currency=self.currency)
        except InvalidBudget as exc:
            raise forms.ValidationError(
                exc.message, code=exc.context["problem"]
            ) from exc
        return amount
