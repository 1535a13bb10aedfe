"""The company, user and team admins are assembled in portal.admin: the accounts'
own admins with their licenses on top, registered under the same models (so the
URLs stay ``admin:accounts_*``)."""

from django.contrib import admin

from accounts import admin as accounts_admin
from accounts.models import Company, Team, User
from portal import admin as portal_admin


def test_portal_admin_replaces_the_accounts_admins():
    for model, assembled, base in (
        (Company, portal_admin.CompanyAdmin, accounts_admin.CompanyAdmin),
        (User, portal_admin.UserAdmin, accounts_admin.UserAdmin),
        (Team, portal_admin.TeamAdmin, accounts_admin.TeamAdmin),
    ):
        registered = admin.site.get_model_admin(model)
        assert type(registered) is assembled
        assert isinstance(registered, base)


def test_the_assembled_admins_carry_the_licenses():
    assert portal_admin.CompanyAdmin.list_display[-3:] == (
        "licenses_purchased",
        "licenses_assigned",
        "licenses_free",
    )
    assert len(portal_admin.CompanyAdmin.inlines) == 3
    assert portal_admin.CompanyAdmin.actions == ["assign_all_users", "revoke_all_users"]
    assert "has_license" in portal_admin.UserAdmin.list_display
    assert portal_admin.UserAdmin.actions == ["assign_license", "revoke_license"]
    assert portal_admin.TeamAdmin.actions == ["assign_team", "revoke_team"]
