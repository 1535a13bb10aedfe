"""License assignments in the admin (A3): the audit trail, with each holder's
sends and the idle licenses per company with what revoking them saves (F6).
Assigning and revoking are the actions of the company, user and team admins
(``portal.admin``), which report through ``run_license_action``."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ReadOnlyInline
from accounts.exceptions import DomainError
from accounts.money import format_money

from .. import rules
from ..models import LicenseAssignment
from ..selectors import (
    assignments_with_activity,
    idle_assignments,
    idle_licenses_by_company,
)


def run_license_action(modeladmin, request, call, *, label: str) -> None:
    """Run one license service call and report its result or refusal to the user."""
    try:
        result = call()
    except DomainError as exc:
        # Services name the company already ("Globex México has 1 free license
        # of 3; 2 were asked. …"): named once, not "Globex México: Globex México …".
        text = exc.message if label in exc.message else f"{label}: {exc.message}"
        modeladmin.message_user(request, text, messages.ERROR)
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
