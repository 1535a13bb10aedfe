"""The credit note form of the invoice admin: it collects input; the service
(``credit_note_issue``) decides."""

from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import InvoiceLine
from ..money import currency_exponent


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
