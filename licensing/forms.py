from django import forms
from django.utils.translation import gettext_lazy as _

from .models import LicenseRequest


class LicenseRequestForm(forms.Form):
    """A user without a license asks their company admin for one."""

    note = forms.CharField(
        label=_("Note for your admin (optional)"),
        max_length=LicenseRequest._meta.get_field("note").max_length,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )
