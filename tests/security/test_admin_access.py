"""Who may open which admin page, for every model registered in the admin site.

The models come from ``admin.site._registry``, so a newly registered model is
checked without touching this file. Customer Success get exactly the pages
their permissions (accounts/roles.py) open; company users never reach the admin
site; staff without a group see nothing; nobody in Customer Success deletes.
"""

from collections import Counter

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.roles import CUSTOMER_SUCCESS_PERMISSIONS
from tests.factories import CompanyAdminFactory, StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db

MODELS = sorted(
    admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower
)
# The one deletion Customer Success may make: a team is a grouping only (no
# history hangs off it; deleting it removes no user, license or message), and a
# mistyped team must be removable. Tested below.
DELETE_EXCEPTIONS = {"accounts.team"}


def _perm(model, action: str) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def _url(model, view: str, *args) -> str:
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def _admin_login(url: str) -> str:
    return f"{reverse('admin:login')}?next={url}"


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _label(model) -> str:
    return model._meta.label_lower


def test_customer_success_permissions_all_exist():
    # given every permission the group is meant to have
    existing = {
        f"{app}.{codename}"
        for app, codename in Permission.objects.values_list(
            "content_type__app_label", "codename"
        )
    }
    # then each one names a real permission (a typo would silently grant nothing)
    assert sorted(CUSTOMER_SUCCESS_PERMISSIONS - existing) == []


def test_customer_success_group_holds_exactly_its_permissions(cs_user):
    group = cs_user.groups.get()
    held = {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list(
            "content_type__app_label", "codename"
        )
    }
    assert held == CUSTOMER_SUCCESS_PERMISSIONS


def test_admin_pages_open_only_for_whom_they_should(cs_user, capsys):
    superuser = StaffUserFactory(is_superuser=True)
    users = {
        "anonymous": None,
        "company admin": CompanyAdminFactory(),
        "agent": UserFactory(),
        "staff without group": StaffUserFactory(),
        "Customer Success": cs_user,
    }
    clients = {who: _client(user) for who, user in users.items()}
    failures = []
    requests = 0
    cs_statuses: Counter = Counter()
    for model, model_admin in MODELS:
        # What the admin allows at all (a superuser holds every permission).
        can_add = model_admin.has_add_permission(_request(superuser))
        expected_cs = {
            "changelist": 200
            if {_perm(model, "view"), _perm(model, "change")}
            & CUSTOMER_SUCCESS_PERMISSIONS
            else 403,
            "add": 200
            if can_add and _perm(model, "add") in CUSTOMER_SUCCESS_PERMISSIONS
            else 403,
        }
        for view in ("changelist", "add"):
            url = _url(model, view)
            for who, client in clients.items():
                requests += 1
                try:
                    response = client.get(url)
                except Exception as exc:  # a crash is a finding like any other
                    failures.append(f"{who} GET {url}: {exc!r}")
                    continue
                if who in ("anonymous", "company admin", "agent"):
                    ok = response.status_code == 302 and response[
                        "Location"
                    ].startswith(_admin_login(url))
                    expected = "redirect to the admin login"
                elif who == "staff without group":
                    ok, expected = response.status_code == 403, "403"
                else:
                    expected = expected_cs[view]
                    ok = response.status_code == expected
                    cs_statuses[(view, response.status_code)] += 1
                if not ok:
                    failures.append(
                        f"{who} GET {url}: {response.status_code} "
                        f"{response.get('Location', '')} (expected {expected})"
                    )

    with capsys.disabled():
        print(
            f"\nadmin access: {len(MODELS)} models, {requests} requests; "
            f"Customer Success: {dict(cs_statuses)}"
        )
    assert failures == []
    assert len(MODELS) >= 15


def _delete_params():
    for model, model_admin in MODELS:
        if _label(model) not in DELETE_EXCEPTIONS:
            yield pytest.param(model, model_admin, id=_label(model))


def test_customer_success_deletes_a_team_and_nothing_else_goes(cs_user):
    from licensing.models import LicenseAssignment
    from licensing.services import license_assign, license_count_set
    from tests.factories import TeamFactory

    member = UserFactory()
    license_count_set(company=member.company, quantity=1, actor=None)
    license_assign(company=member.company, users=[member], actor=None)
    team = TeamFactory(company=member.company, members=[member])
    response = _client(cs_user).post(
        reverse("admin:accounts_team_delete", args=[team.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert LicenseAssignment.objects.filter(user=member, revoked_at=None).exists()


@pytest.mark.parametrize("model,model_admin", _delete_params())
def test_customer_success_can_never_delete(cs_user, model, model_admin):
    request = _request(cs_user)
    # no delete permission, no delete action, and the delete page is refused
    assert _perm(model, "delete") not in CUSTOMER_SUCCESS_PERMISSIONS
    assert not model_admin.has_delete_permission(request)
    assert "delete_selected" not in model_admin.get_actions(request)
    response = _client(cs_user).get(_url(model, "delete", 1))
    assert response.status_code == 403


def test_the_delete_checks_see_deletion_where_it_is_offered():
    """A superuser is offered deletion: the checks above are not vacuous."""
    request = _request(StaffUserFactory(is_superuser=True))
    deletable = {
        _label(m)
        for m, a in MODELS
        if a.has_delete_permission(request)
        and "delete_selected" in a.get_actions(request)
    }
    assert {"accounts.company", "accounts.team"} <= deletable
