"""Forms of the invoice admin (void, run billing): they collect input; the
services decide."""

from datetime import UTC

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company

from ..rules import previous_month
from ..services.runs import MONTH_FORMAT, month_parse


class InvoiceVoidForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Kept on the invoice; it keeps its number."),
    )


def _default_month() -> str:
    return f"{previous_month(timezone.now(), UTC):%Y-%m}"


class RunBillingForm(forms.Form):
    month = forms.CharField(
        label=_("Month"),
        max_length=7,
        initial=_default_month,
        help_text=_("%(format)s, e.g. 2026-10.") % {"format": MONTH_FORMAT},
    )
    company = forms.ModelChoiceField(
        label=_("Company"),
        queryset=Company.objects.order_by("name"),
        required=False,
        empty_label=_("All companies"),
    )
    finalize = forms.BooleanField(
        label=_("Finalize"),
        required=False,
        help_text=_(
            "Also finalize the drafts: this numbers them and freezes them for good. "
            "Only months that have ended can be finalized."
        ),
    )

    def clean_month(self):
        try:
            return month_parse(self.cleaned_data["month"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
