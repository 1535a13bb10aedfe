from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import AppendOnlyAdmin, ReadOnlyInline, ViewOnlyAdmin
from accounts.exceptions import DomainError
from accounts.money import format_money

from . import rules
from .models import (
    IdleLicenseNotice,
    LicenseAssignment,
    LicenseCountChange,
    LicensePrice,
    LicenseRequest,
)
from .selectors import (
    assignments_with_activity,
    idle_assignments,
    idle_licenses_by_company,
)
from .services import (
    license_count_set,
    license_price_set,
    license_request_approve,
    license_request_decline,
)


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


class IdleFilter(admin.SimpleListFilter):
    """Active licenses whose holder sent nothing for 30 days (rules.license_is_idle)."""

    title = _("use")
    parameter_name = "idle"

    def lookups(self, request, model_admin):
        return (("yes", _("Idle for 30 days")),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            idle = idle_assignments(at=timezone.now()).values("pk")
            return queryset.filter(pk__in=idle)
        return queryset


@admin.register(LicenseAssignment)
class LicenseAssignmentAdmin(admin.ModelAdmin):
    """The audit trail of assignments; assigning happens through actions on users,
    teams and companies so the seat limit is always checked by the service.

    Each row shows how its user sends (this month in the company's billing time
    zone, and the last send); the page lists the idle licenses per company with
    what revoking them saves.
    """

    change_list_template = "licensing/admin/licenseassignment_change_list.html"
    list_display = (
        "user",
        "company",
        "assigned_at",
        "assigned_by",
        "revoked_at",
        "revoked_by",
        "templates_this_month",
        "messages_this_month",
        "last_sent_at",
        "is_idle",
    )
    list_filter = (ActiveAssignmentFilter, IdleFilter, "company")
    list_select_related = ("user", "company", "assigned_by", "revoked_by")
    search_fields = ("user__email", "user__full_name", "company__name")
    date_hierarchy = "assigned_at"

    def get_queryset(self, request):
        return assignments_with_activity(
            super().get_queryset(request), at=timezone.now()
        )

    def changelist_view(self, request, extra_context=None):
        idle = idle_licenses_by_company(at=timezone.now())
        extra_context = {
            **(extra_context or {}),
            "idle_companies": [
                {
                    "company": entry.company,
                    "users": ", ".join(
                        a.user.get_full_name() for a in entry.assignments
                    ),
                    "count": entry.idle_count,
                    "price": format_money(entry.monthly_price, entry.currency),
                    "saving": format_money(entry.saving, entry.currency),
                }
                for entry in idle
            ],
            "idle_days": rules.IDLE_AFTER.days,
        }
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description=_("templates this month"))
    def templates_this_month(self, obj):
        return obj.templates_this_month

    @admin.display(description=_("messages this month"))
    def messages_this_month(self, obj):
        return obj.messages_this_month

    @admin.display(description=_("last send"), ordering="last_sent_at")
    def last_sent_at(self, obj):
        return obj.last_sent_at

    @admin.display(description=_("idle"), boolean=True)
    def is_idle(self, obj):
        if obj.revoked_at is not None:
            return None
        return rules.license_is_idle(
            assigned_at=obj.assigned_at,
            last_sent_at=obj.last_sent_at,
            at=timezone.now(),
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Viewable only; the change permission is used by the assign/revoke actions.
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LicenseRequest)
class LicenseRequestAdmin(admin.ModelAdmin):
    """Requests of users without a license. Approving goes through
    ``license_request_approve`` (so ``license_assign`` checks the seat limit);
    requests are never edited or deleted."""

    list_display = (
        "user",
        "company",
        "status",
        "created_at",
        "note",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "company")
    list_select_related = ("user", "company", "decided_by")
    search_fields = ("user__email", "user__full_name", "company__name", "note")
    readonly_fields = (
        "company",
        "user",
        "note",
        "created_at",
        "status",
        "decided_by",
        "decided_at",
    )
    fields = readonly_fields
    actions = ("approve_requests", "decline_requests")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The actions need the change permission; a single request is only viewed.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def _decide(self, request, queryset, service, *, done: str) -> None:
        decided = 0
        for license_request in queryset.select_related("user", "company"):
            try:
                service(request=license_request, actor=request.user)
            except DomainError as exc:
                self.message_user(
                    request,
                    f"{license_request.user.email}: {exc.message}",
                    messages.ERROR,
                )
            else:
                decided += 1
        if decided:
            self.message_user(request, done % {"n": decided}, messages.SUCCESS)

    @admin.action(
        description=_("Approve: assign a license (within the seat limit)"),
        permissions=["change"],
    )
    def approve_requests(self, request, queryset):
        self._decide(
            request,
            queryset,
            license_request_approve,
            done=_("%(n)d request(s) approved; the users hold a license."),
        )

    @admin.action(description=_("Decline"), permissions=["change"])
    def decline_requests(self, request, queryset):
        self._decide(
            request,
            queryset,
            license_request_decline,
            done=_("%(n)d request(s) declined."),
        )


@admin.register(IdleLicenseNotice)
class IdleLicenseNoticeAdmin(ViewOnlyAdmin):
    """The weekly idle license emails: to whom, which licenses, what it saves."""

    list_display = (
        "company",
        "week",
        "idle_count",
        "saving",
        "emailed_at",
        "recipient_list",
    )
    list_filter = ("week", "company")
    list_select_related = ("company",)
    search_fields = ("company__name",)
    date_hierarchy = "week"
    fields = (
        "company",
        "week",
        "idle_count",
        "saving",
        "license_list",
        "recipient_list",
        "created_at",
        "emailed_at",
    )
    readonly_fields = fields

    @admin.display(description=_("monthly saving"))
    def saving(self, obj):
        return format_money(obj.monthly_saving, obj.currency)

    @admin.display(description=_("recipients"))
    def recipient_list(self, obj):
        return ", ".join(obj.recipients)

    @admin.display(description=_("idle licenses"))
    def license_list(self, obj):
        return "; ".join(
            f"{item['name']} <{item['email']}>: "
            + (item.get("last_sent_at") or str(_("no message sent yet")))
            for item in obj.licenses
        )
