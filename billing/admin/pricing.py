"""Admin for charge policies (F1) and volume tiers (F3), for Customer Success.

Policies are edited here while no finalized invoice was billed under them;
companies are switched from a date and tier sets are entered through the
services in ``billing.pricing``, so a refused change is shown on the form and
changes nothing.
"""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import AppendOnlyAdmin
from accounts.exceptions import DomainError

from .. import rules
from ..models import ChargePolicy, ChargePolicyAssignment, VolumeTier
from ..rules import TIERED_CATEGORIES
from ..selectors.pricing import charge_policy_billed
from ..services.pricing import (
    POLICY_FIELDS,
    POLICY_TERMS,
    charge_policy_assign,
    charge_policy_create,
    charge_policy_update,
    volume_tiers_set,
)


class AssignmentInline(admin.TabularInline):
    model = ChargePolicyAssignment
    fields = ("company", "effective_from", "note", "created_by", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("effective_from",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("company", "created_by")


class ChargePolicyForm(forms.ModelForm):
    """Saved through ``charge_policy_create`` / ``charge_policy_update`` in
    ``clean()``, so a refusal is a form error and nothing is saved."""

    class Meta:
        model = ChargePolicy
        fields = POLICY_FIELDS

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if self.instance.pk is not None and not self.changed_data:
            self.saved = self.instance  # nothing to change
            return cleaned
        values = {f: cleaned[f] for f in self._meta.fields if f in cleaned}
        try:
            if self.instance.pk is None:
                self.saved = charge_policy_create(actor=self.request_user, **values)
            else:
                self.saved = charge_policy_update(
                    policy=self.instance, actor=self.request_user, **values
                )
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned

    def validate_unique(self):
        pass  # the service checks the name


@admin.register(ChargePolicy)
class ChargePolicyAdmin(admin.ModelAdmin):
    form = ChargePolicyForm
    list_display = ("name", *POLICY_TERMS, "in_use")
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "description")}),
        (
            _("Charged inside / outside the customer service window"),
            {"fields": POLICY_TERMS},
        ),
        (None, {"fields": ("created_by", "created_at")}),
    )
    inlines = [AssignmentInline]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request_user = request.user
        return form

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a new policy has none

    def get_readonly_fields(self, request, obj=None):
        fixed = ("created_by", "created_at")
        if obj is not None and not rules.policy_editable(
            billed_on_finalized_invoice=charge_policy_billed(policy=obj)
        ):
            # Finalized invoices were computed with these terms: keep them true
            # (the service refuses a change too).
            return ("name", "description", *POLICY_TERMS, *fixed)
        return fixed

    def has_delete_permission(self, request, obj=None):
        return False  # history: assignments and charges point at policies

    @admin.display(description=_("in use"), boolean=True)
    def in_use(self, obj):
        return obj.assignments.exists()

    def save_model(self, request, obj, form, change):
        # The service saved it in the form's clean().
        obj.pk = form.saved.pk


class ChargePolicyAssignmentForm(forms.ModelForm):
    class Meta:
        model = ChargePolicyAssignment
        fields = ("company", "policy", "effective_from", "note")

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.instance = charge_policy_assign(
                company=cleaned.get("company"),
                policy=cleaned["policy"],
                effective_from=cleaned["effective_from"],
                actor=self.request_user,
                note=cleaned.get("note", ""),
            )
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned


@admin.register(ChargePolicyAssignment)
class ChargePolicyAssignmentAdmin(AppendOnlyAdmin):
    """Switch a company (or the default) to a policy from an instant: add only;
    assignments are history and never edited."""

    form = ChargePolicyAssignmentForm
    list_display = ("owner", "policy", "effective_from", "note", "created_by")
    list_filter = (("company", admin.EmptyFieldListFilter), "policy")
    list_select_related = ("company", "policy", "created_by")
    search_fields = ("company__name", "company__slug", "policy__name", "note")
    autocomplete_fields = ("company",)
    date_hierarchy = "effective_from"

    def save_model(self, request, obj, form, change):
        # The service created it in the form's clean(), under the company lock.
        obj.pk = form.instance.pk

    def save_related(self, request, form, formsets, change):
        pass  # no relations beyond the row the service wrote

    @admin.display(description=_("company"), ordering="company__name")
    def owner(self, obj):
        return obj.company.name if obj.company_id else _("Every company (default)")


class VolumeTierSetForm(forms.ModelForm):
    """One tier set: the rows "from message, rate", one per line."""

    tiers = forms.CharField(
        label=_("tiers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 40}),
        help_text=_(
            'One tier per line: "from message number, rate", e.g. "1, 0.0200" then '
            '"10001, 0.0150". Messages before the first tier are priced by the rate '
            "card. Replaces any set starting the same month."
        ),
    )

    end_tiers = forms.BooleanField(
        label=_("End tiers from this month"),
        required=False,
        help_text=_(
            "No tiers from this month on: the rate card prices every message again. "
            "Leave the tiers empty."
        ),
    )

    class Meta:
        model = VolumeTier
        fields = ("company", "market", "category", "effective_from")
        help_texts = {"effective_from": _("The first day of a month.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [
            c for c in self.fields["category"].choices if c[0] in TIERED_CATEGORIES
        ]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        rows = []
        for number, line in enumerate(cleaned["tiers"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.replace(";", ",").split(",")]
            if len(parts) != 2:
                raise forms.ValidationError(
                    _("Line %(n)s: write “from message, rate”.") % {"n": number}
                )
            rows.append(parts)
        if cleaned.get("end_tiers") and rows:
            raise forms.ValidationError(
                _("Either enter tiers or end them from this month, not both.")
            )
        if not cleaned.get("end_tiers") and not rows:
            raise forms.ValidationError(
                _("Enter at least one tier, or tick “End tiers from this month”.")
            )
        try:
            self.created = volume_tiers_set(
                company=cleaned["company"],
                market=cleaned["market"],
                category=cleaned["category"],
                effective_from=cleaned["effective_from"],
                tiers=rows,
                actor=self.request_user,
            )
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned

    def validate_unique(self):
        pass  # the service replaces a set starting the same month


@admin.register(VolumeTier)
class VolumeTierAdmin(AppendOnlyAdmin):
    form = VolumeTierSetForm
    list_display = (
        "company",
        "market",
        "category",
        "effective_from",
        "starts_at",
        "rate",
        "currency",
        "created_by",
    )
    list_filter = ("category", "market", "effective_from")
    list_select_related = ("company", "market", "created_by")
    search_fields = ("company__name", "company__slug", "market__name")
    autocomplete_fields = ("company",)

    # Append only: a set is changed by entering a new one from a month.

    @admin.display(description=_("from message number"), ordering="from_message")
    def starts_at(self, obj):
        return _("No tiers from this month") if obj.ends_tiers else obj.from_message

    def save_model(self, request, obj, form, change):
        if form.created:
            obj.pk = form.created[0].pk
        else:  # the set was ended: the row without tiers the service wrote
            obj.pk = (
                VolumeTier.objects.filter(
                    company=form.cleaned_data["company"],
                    market=form.cleaned_data["market"],
                    category=form.cleaned_data["category"],
                    effective_from=form.cleaned_data["effective_from"],
                )
                .values_list("pk", flat=True)
                .get()
            )

    def save_related(self, request, form, formsets, change):
        pass
