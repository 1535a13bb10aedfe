from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import (
    ReadOnlyPasswordHashField,
    ReadOnlyPasswordHashWidget,
    UserChangeForm,
    UserCreationForm,
)
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

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

from .exceptions import DomainError
from .models import Company, Team, User
from .rules import ACCOUNT_TAKEOVER_FIELDS
from .services import team_members_validate, user_may_manage, user_sessions_revoke


def _can_manage_licenses(modeladmin, request) -> bool:
    return request.user.has_perm(
        "licensing.add_licenseassignment"
    ) and request.user.has_perm("licensing.change_licenseassignment")


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "country",
        "billing_currency",
        "billing_timezone",
        "licenses_purchased",
        "licenses_assigned",
        "licenses_free",
    )
    list_filter = ("country", "billing_currency")
    search_fields = ("name", "slug", "billing_email")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [LicenseCountChangeInline, LicensePriceInline, LicenseAssignmentInline]
    actions = ["assign_all_users", "revoke_all_users"]
    fieldsets = (
        (None, {"fields": ("name", "slug", "country")}),
        (
            _("Billing"),
            {
                "fields": (
                    "billing_email",
                    "billing_address",
                    "billing_currency",
                    "billing_timezone",
                    "tax_rate",
                )
            },
        ),
    )

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
        for company in queryset:
            run_license_action(
                self,
                request,
                lambda c=company: license_assign_company(company=c, actor=request.user),
                label=str(company),
            )

    @admin.action(
        description=_("Revoke every license of the company"),
        permissions=["manage_licenses"],
    )
    def revoke_all_users(self, request, queryset):
        for company in queryset:
            run_license_action(
                self,
                request,
                lambda c=company: license_revoke_company(company=c, actor=request.user),
                label=str(company),
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


class CompanyUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name", "company", "role")


class CompanyUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class LockedPasswordHashWidget(ReadOnlyPasswordHashWidget):
    """The password summary without the button to the password page."""

    template_name = "accounts/widgets/read_only_password_hash_locked.html"


def _locked_password_field() -> ReadOnlyPasswordHashField:
    return ReadOnlyPasswordHashField(
        label=_("Password"),
        widget=LockedPasswordHashWidget,
        help_text=_(
            "Only a superuser can change the password of a superuser or of "
            "another staff user."
        ),
    )


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = CompanyUserChangeForm
    add_form = CompanyUserCreationForm
    ordering = ("email",)
    list_display = (
        "email",
        "full_name",
        "company",
        "role",
        "has_license",
        "is_active",
        "is_staff",
    )
    list_filter = (LicensedFilter, "role", "is_active", "is_staff", "company")
    list_select_related = ("company",)
    search_fields = ("email", "full_name", "company__name")
    readonly_fields = ("last_login", "date_joined")
    actions = ["assign_license", "revoke_license"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("full_name", "company", "role")}),
        (
            _("Access"),
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "full_name",
                    "company",
                    "role",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

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

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # A user's company never changes: licenses and messages hang off it.
            readonly.append("company")
        if not request.user.is_superuser:
            readonly += ["is_superuser", "user_permissions", "groups"]
        if not user_may_manage(actor=request.user, target=obj):
            # A superuser's or another staff user's account: whoever changes its
            # email, flags or rights can take it over.
            readonly += [f for f in ACCOUNT_TAKEOVER_FIELDS if f not in readonly]
        return readonly

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None and not user_may_manage(actor=request.user, target=obj):
            # base_fields is this class's own dict: the shared field stays as is.
            form.base_fields["password"] = _locked_password_field()
        return form

    def user_change_password(self, request, id, form_url=""):
        target = self.get_object(request, unquote(id))
        if target is not None and not user_may_manage(
            actor=request.user, target=target
        ):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def save_model(self, request, obj, form, change):
        deactivated = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        if deactivated:
            # Its sessions end now and stay ended once the user is active again.
            user_sessions_revoke(user=obj)

    def has_delete_permission(self, request, obj=None):
        if not super().has_delete_permission(request, obj):
            return False
        return user_may_manage(actor=request.user, target=obj)

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
        description=_("Revoke the WhatsApp license"), permissions=["manage_licenses"]
    )
    def revoke_license(self, request, queryset):
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


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ("company", "name", "members")

    def clean(self):
        cleaned = super().clean()
        team = Team(company=cleaned.get("company")) if cleaned.get("company") else None
        if team is not None and cleaned.get("members") is not None:
            try:
                team_members_validate(team=team, users=list(cleaned["members"]))
            except DomainError as exc:
                raise forms.ValidationError({"members": exc.message}) from exc
        return cleaned


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamForm
    list_display = ("name", "company", "member_count")
    list_filter = ("company",)
    search_fields = ("name", "company__name", "members__email")
    filter_horizontal = ("members",)
    actions = ["assign_team", "revoke_team"]

    def get_queryset(self, request):
        from django.db.models import Count

        return (
            super()
            .get_queryset(request)
            .select_related("company")
            .annotate(members_count=Count("members"))
        )

    @admin.display(description=_("members"), ordering="members_count")
    def member_count(self, obj):
        return obj.members_count

    @admin.action(
        description=_("Assign a license to every member"),
        permissions=["manage_licenses"],
    )
    def assign_team(self, request, queryset):
        for team in queryset:
            run_license_action(
                self,
                request,
                lambda t=team: license_assign_team(team=t, actor=request.user),
                label=str(team),
            )

    @admin.action(
        description=_("Revoke the licenses of every member"),
        permissions=["manage_licenses"],
    )
    def revoke_team(self, request, queryset):
        for team in queryset:
            run_license_action(
                self,
                request,
                lambda t=team: license_revoke_team(team=t, actor=request.user),
                label=str(team),
            )

    has_manage_licenses_permission = _can_manage_licenses
