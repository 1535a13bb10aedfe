"""Forms of the contacts pages and of "New conversation".

Forms check the shape of the input; what may be sent, and whether a number is a
WhatsApp number, is decided by the services (``conversation_start``,
``phone_parse``, ``contacts_import``).
"""

import uuid

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from .forms import template_params_clean
from .models import BusinessNumber, MessageTemplate

# A contact file is a few thousand lines at most (services.contacts.IMPORT_MAX_ROWS).
IMPORT_MAX_BYTES = 2 * 1024 * 1024


class ConversationStartForm(forms.Form):
    # Generated when the page renders: a double submit sends once.
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    business_number = forms.ModelChoiceField(
        label=_("From business number"),
        queryset=BusinessNumber.objects.none(),
        empty_label=None,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    to = forms.CharField(
        label=_("Contact's phone number"),
        max_length=40,
        help_text=_(
            "International format, e.g. +34 612 34 56 78; a national number is "
            "read in the business number's country."
        ),
        widget=forms.TextInput(
            attrs={
                "class": "form-control",
                "autocomplete": "tel",
                "inputmode": "tel",
                "placeholder": "+34 612 34 56 78",
            }
        ),
    )
    name = forms.CharField(
        label=_("Contact's name (optional)"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    template = forms.ModelChoiceField(
        label=_("Template"),
        queryset=MessageTemplate.objects.none(),
        empty_label=_("Choose an approved template"),
        widget=forms.Select(attrs={"class": "form-select", "id": "start-template"}),
    )
    opt_in = forms.BooleanField(
        label=_("The contact agreed to receive WhatsApp messages from this number"),
        help_text=_("Recorded in your name as the contact's opt-in."),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(
        self,
        *args,
        numbers: QuerySet[BusinessNumber],
        templates: QuerySet[MessageTemplate],
        **kwargs,
    ):
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4())
        super().__init__(*args, **kwargs)
        self.fields["business_number"].queryset = numbers
        self.fields["template"].queryset = templates

    def clean(self):
        cleaned = super().clean()
        cleaned["params"] = template_params_clean(self.data, cleaned.get("template"))
        return cleaned


class ContactImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns: phone (required), name, business_number (a display number "
            "of your company, or * for all), opted_in_at (YYYY-MM-DD)."
        ),
        widget=forms.ClearableFileInput(
            attrs={"class": "form-control", "accept": ".csv,text/csv"}
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MB."))
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(_("The file is not UTF-8 text.")) from exc


class ContactOptInForm(forms.Form):
    business_number = forms.ModelChoiceField(
        label=_("Business number"),
        queryset=BusinessNumber.objects.none(),
        empty_label=None,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    def __init__(self, *args, numbers: QuerySet[BusinessNumber], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_number"].queryset = numbers
