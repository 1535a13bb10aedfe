from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ReadOnlyInline
from accounts.exceptions import DomainError

from .models import LicenseAssignment, LicenseCountChange, LicensePrice
from .services import license_count_set, license_price_set


def run_license_action(modeladmin, request, call, *, label: str) -> None:
    """Run one license service call and report its result or refusal to the user."""
    try:
        result = call()
    except DomainError as exc:
        modeladmin.message_user(request, f"{label}: {exc.message}", messages.ERROR)
        return
    parts = []
    if result.assigned:
        parts.append(_("%(n)d assigned") % {"n": len(result.assigned)})
    if result.already_licensed:
        parts.append(_("%(n)d already licensed") % {"n": len(result.already_licensed)})
    if result.revoked:
        parts.append(_("%(n)d revoked") % {"n": len(result.revoked)})
    if result.not_licensed:
        parts.append(_("%(n)d held no license") % {"n": len(result.not_licensed)})
    modeladmin.message_user(
        request,
        f"{label}: {', '.join(str(p) for p in parts) or _('nothing to do')}.",
        messages.SUCCESS,
    )


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


class LicenseAssignmentInline(ReadOnlyInline):
    model = LicenseAssignment
    fields = ("user", "assigned_at", "assigned_by", "revoked_at", "revoked_by")
    readonly_fields = fields
    verbose_name_plural = _("License assignments (assign from Users, Teams or actions)")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("user", "assigned_by", "revoked_by")
        )


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


class AppendOnlyAdmin(admin.ModelAdmin):
    """History rows are added through a service and never edited or deleted."""

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request_user = request.user
        return form

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """The service in the form's clean() already saved the row."""


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


class ActiveAssignmentFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("active", _("Active")), ("revoked", _("Revoked")))

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(LicenseAssignment)
class LicenseAssignmentAdmin(admin.ModelAdmin):
    """The audit trail of assignments; assigning happens through actions on users,
    teams and companies so the seat limit is always checked by the service."""

    list_display = (
        "user",
        "company",
        "assigned_at",
        "assigned_by",
        "revoked_at",
        "revoked_by",
    )
    list_filter = (ActiveAssignmentFilter, "company")
    list_select_related = ("user", "company", "assigned_by", "revoked_by")
    search_fields = ("user__email", "user__full_name", "company__name")
    date_hierarchy = "assigned_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Viewable only; the change permission is used by the assign/revoke actions.
        return False

    def has_delete_permission(self, request, obj=None):
        return False
