"""Forms of the rate card admin: they collect input; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from ..exceptions import InvalidRateCard
from ..models import RateCard
from ..services.rate_cards import COLUMNS, rate_card_create

RATE_CARD_FILE_MAX_BYTES = 2 * 1024 * 1024


class RateCardForm(forms.ModelForm):
    """Add a card (company and currency are fixed afterwards) or rename one."""

    class Meta:
        model = RateCard
        fields = ("company", "currency", "name")

    saved: RateCard | None = None

    def clean_currency(self):
        return self.cleaned_data["currency"].strip().upper()

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and "currency" in cleaned and not self.errors:
            # A new card is created by the service (it normalises and validates,
            # and refuses a second card created at the same time).
            try:
                self.saved = rate_card_create(
                    company=cleaned.get("company"),
                    currency=cleaned["currency"],
                    name=cleaned.get("name", ""),
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
