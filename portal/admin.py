"""The assembled admin of companies, users and teams: each account admin of
accounts.admin with its licenses (license columns and filter, the license
history inlines, and the assign and revoke actions, through licensing's
services). Registered in place of the accounts' own, so the admin URLs
(``admin:accounts_company_*``, ...) stay the same."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Exists, OuterRef
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from accounts import admin as accounts_admin
from accounts.models import Company, Team, User
from licensing.admin import (
    LicenseAssignmentInline,
    LicenseCountChangeInline,
    LicensePriceInline,
    run_license_action,
)
from licensing.models import LicenseAssignment
from licensing.selectors import company_list_with_licenses
from licensing.services import (
    license_assign,
    license_assign_company,
    license_assign_team,
    license_revoke,
    license_revoke_company,
    license_revoke_team,
)


def _can_manage_licenses(modeladmin, request) -> bool:
    return request.user.has_perm(
        "licensing.add_licenseassignment"
    ) and request.user.has_perm("licensing.change_licenseassignment")


def _each(model_admin, request, objects, action) -> None:
    """Run a license action on each selected object, reporting each outcome."""
    for obj in objects:
        run_license_action(
            model_admin, request, lambda o=obj: action(o), label=str(obj)
        )


# Rows of the revoke confirmation page at most (the count says how many more).
REVOKE_PAGE_ROWS = 200


def _revoke_confirmation(model_admin, request, queryset, *, action, holders, title):
    """The confirmation page of a revoke action, like the other bulk actions:
    who loses a license, by company, before anything is revoked. ``holders`` are
    the active license assignments the action would end."""
    select_across = request.POST.get("select_across") == "1"
    selected = list(queryset[:1] if select_across else queryset)
    assignments = holders.select_related("user", "company").order_by(
        "company__name", "user__email"
    )
    return TemplateResponse(
        request,
        "admin/portal/revoke_confirm.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": title,
            "assignments": assignments[:REVOKE_PAGE_ROWS],
            "count": assignments.count(),
            "selected": selected,
            "select_across": select_across,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "has_view_permission": True,
        },
    )


def _confirmed(request) -> bool:
    return request.POST.get("post") == "yes"


class CompanyAdmin(accounts_admin.CompanyAdmin):
    list_display = (
        *accounts_admin.CompanyAdmin.list_display,
        "licenses_purchased",
        "licenses_assigned",
        "licenses_free",
    )
    inlines = [LicenseCountChangeInline, LicensePriceInline, LicenseAssignmentInline]
    actions = ["assign_all_users", "revoke_all_users"]

    def get_queryset(self, request):
        return company_list_with_licenses()

    @admin.display(description=_("purchased"), ordering="licenses_purchased")
    def licenses_purchased(self, obj):
        return obj.licenses_purchased

    @admin.display(description=_("assigned"), ordering="licenses_assigned")
    def licenses_assigned(self, obj):
        return obj.licenses_assigned

    @admin.display(description=_("free"))
    def licenses_free(self, obj):
        return max(obj.licenses_purchased - obj.licenses_assigned, 0)

    @admin.action(
        description=_("Assign a license to every active user"),
        permissions=["manage_licenses"],
    )
    def assign_all_users(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda c: license_assign_company(company=c, actor=request.user),
        )

    @admin.action(
        description=_("Revoke every license of the company…"),
        permissions=["manage_licenses"],
    )
    def revoke_all_users(self, request, queryset):
        if not _confirmed(request):
            return _revoke_confirmation(
                self,
                request,
                queryset,
                action="revoke_all_users",
                holders=LicenseAssignment.objects.filter(
                    company__in=queryset, revoked_at__isnull=True
                ),
                title=_("Revoke every license of the selected companies"),
            )
        _each(
            self,
            request,
            queryset,
            lambda c: license_revoke_company(company=c, actor=request.user),
        )

    has_manage_licenses_permission = _can_manage_licenses


class LicensedFilter(admin.SimpleListFilter):
    title = _("WhatsApp license")
    parameter_name = "licensed"

    def lookups(self, request, model_admin):
        return (("yes", _("Licensed")), ("no", _("Not licensed")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(has_license=True)
        if self.value() == "no":
            return queryset.filter(has_license=False)
        return queryset


class UserAdmin(accounts_admin.UserAdmin):
    list_display = (
        "email",
        "full_name",
        "company",
        "role",
        "has_license",
        "is_active",
        "is_staff",
    )
    list_filter = (LicensedFilter, *accounts_admin.UserAdmin.list_filter)
    actions = ["assign_license", "revoke_license"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                has_license=Exists(
                    LicenseAssignment.objects.filter(
                        user=OuterRef("pk"), revoked_at__isnull=True
                    )
                )
            )
        )

    @admin.display(boolean=True, description=_("licensed"), ordering="has_license")
    def has_license(self, obj):
        return obj.has_license

    def _by_company(self, queryset):
        by_company: dict[Company, list[User]] = {}
        for user in queryset.select_related("company"):
            if user.company is None:
                continue
            by_company.setdefault(user.company, []).append(user)
        return by_company

    @admin.action(
        description=_("Assign a WhatsApp license"), permissions=["manage_licenses"]
    )
    def assign_license(self, request, queryset):
        if queryset.filter(company__isnull=True).exists():
            self.message_user(
                request,
                _(
                    "Staff users without a company cannot hold a license. Nothing was assigned."
                ),
                messages.ERROR,
            )
            return
        for company, users in self._by_company(queryset).items():
            run_license_action(
                self,
                request,
                lambda c=company, u=users: license_assign(
                    company=c, users=u, actor=request.user
                ),
                label=str(company),
            )

    @admin.action(
        description=_("Revoke the WhatsApp license…"), permissions=["manage_licenses"]
    )
    def revoke_license(self, request, queryset):
        if not _confirmed(request):
            return _revoke_confirmation(
                self,
                request,
                queryset,
                action="revoke_license",
                holders=LicenseAssignment.objects.filter(
                    user__in=queryset, revoked_at__isnull=True
                ),
                title=_("Revoke the WhatsApp license of the selected users"),
            )
        for company, users in self._by_company(queryset).items():
            run_license_action(
                self,
                request,
                lambda c=company, u=users: license_revoke(
                    company=c, users=u, actor=request.user
                ),
                label=str(company),
            )

    has_manage_licenses_permission = _can_manage_licenses


class TeamAdmin(accounts_admin.TeamAdmin):
    actions = ["assign_team", "revoke_team"]

    @admin.action(
        description=_("Assign a license to every member"),
        permissions=["manage_licenses"],
    )
    def assign_team(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda t: license_assign_team(team=t, actor=request.user),
        )

    @admin.action(
        description=_("Revoke the licenses of every member…"),
        permissions=["manage_licenses"],
    )
    def revoke_team(self, request, queryset):
        if not _confirmed(request):
            return _revoke_confirmation(
                self,
                request,
                queryset,
                action="revoke_team",
                holders=LicenseAssignment.objects.filter(
                    user__teams__in=queryset, revoked_at__isnull=True
                ).distinct(),
                title=_("Revoke the licenses of every member of the selected teams"),
            )
        _each(
            self,
            request,
            queryset,
            lambda t: license_revoke_team(team=t, actor=request.user),
        )

    has_manage_licenses_permission = _can_manage_licenses


for model, model_admin in (
    (Company, CompanyAdmin),
    (User, UserAdmin),
    (Team, TeamAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
