"""Forms of the billing admin: they collect input; the services decide."""

from datetime import UTC

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company

from .exceptions import InvalidRateCard
from .models import InvoiceLine, RateCard
from .money import currency_exponent
from .rate_cards import COLUMNS, rate_card_validate
from .rules import previous_month
from .runs import MONTH_FORMAT, month_parse

RATE_CARD_FILE_MAX_BYTES = 2 * 1024 * 1024


class RateCardForm(forms.ModelForm):
    """Add a card (company and currency are fixed afterwards) or rename one."""

    class Meta:
        model = RateCard
        fields = ("company", "currency", "name")

    def clean_currency(self):
        return self.cleaned_data["currency"].strip().upper()

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and "currency" in cleaned:
            try:
                rate_card_validate(
                    company=cleaned.get("company"), currency=cleaned["currency"]
                )
            except InvalidRateCard as exc:
                self.add_error("currency", exc.message)
        return cleaned


class RateCardImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8 CSV with the header %(columns)s (any order). Dates are "
            "YYYY-MM-DD (midnight UTC) or ISO datetimes with an offset."
        )
        % {"columns": ",".join(COLUMNS)},
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > RATE_CARD_FILE_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than 2 MB; split it into several imports.")
            )
        try:
            self.text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(
                _("The file is not UTF-8 text: save it as “CSV UTF-8” and retry.")
            ) from exc
        return upload


class InvoiceVoidForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Kept on the invoice; it keeps its number."),
    )


class CreditNoteForm(forms.Form):
    """One amount per creditable invoice line, and the reason."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )

    def __init__(self, *args, lines: list[InvoiceLine], currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        places = currency_exponent(currency)
        for line in lines:
            self.fields[self.field_name(line)] = forms.DecimalField(
                label=line.description,
                required=False,
                min_value=0,
                max_digits=16,
                decimal_places=places,
            )

    @staticmethod
    def field_name(line: InvoiceLine) -> str:
        return f"amount_{line.pk}"

    def rows(self):
        """(line, bound field) pairs for the template."""
        return [(line, self[self.field_name(line)]) for line in self.lines]

    def clean(self):
        cleaned = super().clean()
        self.amounts = {
            line.pk: cleaned[self.field_name(line)]
            for line in self.lines
            if cleaned.get(self.field_name(line))
        }
        if not self.errors and not self.amounts:
            raise forms.ValidationError(_("Enter an amount for at least one line."))
        return cleaned


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
