"""The company's billing details in the portal (F7): input only;
``accounts.services.company_billing_details_update`` validates and saves."""

from django import forms
from django.utils.translation import gettext_lazy as _


class BillingDetailsForm(forms.Form):
    legal_name = forms.CharField(
        label=_("Legal name"),
        max_length=200,
        required=False,
        help_text=_("As registered; empty: the company's name."),
    )
    billing_address = forms.CharField(
        label=_("Address"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    tax_id = forms.CharField(
        label=_("VAT / tax ID"),
        max_length=32,
        required=False,
        help_text=_("In the EU, the VAT number with its country prefix (ESB12345674)."),
    )
    billing_email = forms.EmailField(
        label=_("Billing contact email"),
        help_text=_("Where invoices are sent."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")
        self.fields["tax_id"].widget.attrs["autocomplete"] = "off"
        self.fields["billing_email"].widget.attrs["autocomplete"] = "email"
        self.fields["billing_address"].widget.attrs["autocomplete"] = "street-address"
        self.fields["legal_name"].widget.attrs["autocomplete"] = "organization"

    def mark_invalid(self) -> None:
        """The fields in error say so to the eye and to screen readers."""
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["class"] = attrs.get("class", "") + " is-invalid"
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = f"error-{name}"
