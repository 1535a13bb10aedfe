"""The purchased count and price history in the admin (A1, A2): append-only,
each addition made by its service so that a refusal shows on the form; and the
history inlines of the company admin (``portal.admin``)."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import AppendOnlyAdmin, ReadOnlyInline
from accounts.exceptions import DomainError

from ..models import LicenseCountChange, LicensePrice
from ..services import license_count_set, license_price_set


class LicenseCountChangeInline(ReadOnlyInline):
    model = LicenseCountChange
    fields = ("quantity", "effective_at", "note", "created_by", "created_at")
    readonly_fields = fields
    verbose_name_plural = _("License count history (add changes under Licensing)")


class LicensePriceInline(ReadOnlyInline):
    model = LicensePrice
    fields = (
        "monthly_amount",
        "currency",
        "effective_at",
        "note",
        "created_by",
        "created_at",
    )
    readonly_fields = fields
    verbose_name_plural = _("Negotiated license prices")


class ServiceBackedAddForm(forms.ModelForm):
    """An add form whose ``clean`` runs the service, so refusals show on the form.

    The admin wraps the whole request in a transaction; the service row is the
    saved object, nothing else is written by the form.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "effective_at" in self.fields:
            self.fields["effective_at"].required = False
            self.fields["effective_at"].initial = None
            self.fields["effective_at"].help_text = _(
                "Leave empty for now; a later date schedules the change."
            )

    def run_service(self, cleaned_data):  # pragma: no cover - overridden
        raise NotImplementedError

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.created = self.run_service(cleaned)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned

    def save(self, commit=True):
        self.save_m2m = lambda: None
        return self.created


class LicenseCountChangeForm(ServiceBackedAddForm):
    class Meta:
        model = LicenseCountChange
        fields = ("company", "quantity", "effective_at", "note")

    def run_service(self, cleaned):
        return license_count_set(
            company=cleaned["company"],
            quantity=cleaned["quantity"],
            effective_at=cleaned.get("effective_at"),
            note=cleaned.get("note", ""),
            actor=self.request_user,
        )


class LicensePriceForm(ServiceBackedAddForm):
    class Meta:
        model = LicensePrice
        fields = ("company", "currency", "monthly_amount", "effective_at", "note")

    def run_service(self, cleaned):
        return license_price_set(
            company=cleaned.get("company"),
            currency=cleaned["currency"],
            monthly_amount=cleaned["monthly_amount"],
            effective_at=cleaned.get("effective_at"),
            note=cleaned.get("note", ""),
            actor=self.request_user,
        )


@admin.register(LicenseCountChange)
class LicenseCountChangeAdmin(AppendOnlyAdmin):
    form = LicenseCountChangeForm
    list_display = (
        "company",
        "quantity",
        "effective_at",
        "created_by",
        "created_at",
        "note",
    )
    list_filter = ("company",)
    list_select_related = ("company", "created_by")
    search_fields = ("company__name", "note")
    date_hierarchy = "effective_at"
    autocomplete_fields = ("company",)


@admin.register(LicensePrice)
class LicensePriceAdmin(AppendOnlyAdmin):
    form = LicensePriceForm
    list_display = (
        "__str__",
        "company",
        "monthly_amount",
        "currency",
        "effective_at",
        "created_by",
    )
    list_filter = ("currency", ("company", admin.EmptyFieldListFilter), "company")
    list_select_related = ("company", "created_by")
    search_fields = ("company__name", "note")
    autocomplete_fields = ("company",)
