from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import (
    ReadOnlyPasswordHashField,
    ReadOnlyPasswordHashWidget,
    UserChangeForm,
    UserCreationForm,
)
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from .exceptions import DomainError
from .models import Company, Team, User
from .rules import ACCOUNT_TAKEOVER_FIELDS
from .services import team_members_validate, user_may_manage, user_sessions_revoke


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    """A company's own fields; portal.admin adds its licenses (columns, inlines
    and actions) on top."""

    list_display = (
        "name",
        "slug",
        "country",
        "billing_currency",
        "billing_timezone",
    )
    list_filter = ("country", "billing_currency", "whatsapp_opt_in_required")
    search_fields = ("name", "slug", "billing_email")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "country")}),
        (
            _("Billing"),
            {
                "fields": (
                    "legal_name",
                    "tax_id",
                    "billing_email",
                    "billing_address",
                    "billing_currency",
                    "billing_timezone",
                    "tax_rate",
                )
            },
        ),
        (_("WhatsApp"), {"fields": ("whatsapp_opt_in_required",)}),
    )


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
    """Who may change whom (no staff takeover); portal.admin adds the license
    column, filter and actions on top."""

    form = CompanyUserChangeForm
    add_form = CompanyUserCreationForm
    ordering = ("email",)
    list_display = (
        "email",
        "full_name",
        "company",
        "role",
        "is_active",
        "is_staff",
    )
    list_filter = ("role", "is_active", "is_staff", "company")
    list_select_related = ("company",)
    search_fields = ("email", "full_name", "company__name")
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("full_name", "company", "role", "language")}),
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
    """Teams and their members; portal.admin adds the license actions on top."""

    form = TeamForm
    list_display = ("name", "company", "member_count")
    list_filter = ("company",)
    search_fields = ("name", "company__name", "members__email")
    filter_horizontal = ("members",)

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
