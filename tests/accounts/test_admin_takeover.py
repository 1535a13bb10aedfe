"""Customer Success cannot take over a superuser or another staff user.

With ``accounts.change_user`` a Customer Success user edits company users
(email, active flag, password). The password, email, active, staff and
superuser flags, groups and permissions of a superuser or of another staff user
are changed only by a superuser; the admin's own URLs refuse the rest.
"""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.rules import may_manage_account
from tests.accounts.admin_forms import change_url as _change_url
from tests.accounts.admin_forms import post_change as _post_change
from tests.factories import StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Very-long-new-passphrase-42"


def _password_url(user) -> str:
    return reverse("admin:auth_user_password_change", args=[user.pk])


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _set_password(client, target):
    return client.post(
        _password_url(target),
        {
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "usable_password": "true",
        },
    )


@pytest.fixture
def superuser(db):
    return StaffUserFactory(is_superuser=True, email="root@example.com")


@pytest.fixture
def other_staff(db):
    return StaffUserFactory(email="colleague@example.com")


# --- the rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    "actor_is_superuser,target_is_superuser,target_is_staff,is_self,expected",
    [
        (False, False, False, False, True),  # CS edits a company user
        (False, True, True, False, False),  # CS and a superuser
        (False, False, True, False, False),  # CS and another staff user
        (False, False, True, True, True),  # a staff user and their own account
        (True, True, True, False, True),  # a superuser and another superuser
        (True, False, True, False, True),  # a superuser and a staff user
    ],
)
def test_may_manage_account(
    actor_is_superuser, target_is_superuser, target_is_staff, is_self, expected
):
    assert (
        may_manage_account(
            actor_is_superuser=actor_is_superuser,
            target_is_superuser=target_is_superuser,
            target_is_staff=target_is_staff,
            is_self=is_self,
        )
        is expected
    )


# --- the password page -----------------------------------------------------------


def test_customer_success_cannot_set_a_superusers_password(cs_user, superuser):
    client = _client(cs_user)
    assert client.get(_password_url(superuser)).status_code == 403
    response = _set_password(client, superuser)
    assert response.status_code == 403
    superuser.refresh_from_db()
    assert superuser.check_password("pw")
    assert not superuser.check_password(NEW_PASSWORD)
    # and the takeover of the report fails: the new password does not log in
    login = Client().post(
        reverse("admin:login"),
        {"username": superuser.email, "password": NEW_PASSWORD},
    )
    assert login.status_code == 200  # the form again, not a redirect


def test_customer_success_cannot_set_another_staff_users_password(cs_user, other_staff):
    response = _set_password(_client(cs_user), other_staff)
    assert response.status_code == 403
    other_staff.refresh_from_db()
    assert other_staff.check_password("pw")


def test_the_change_page_offers_no_password_button_for_a_superuser(cs_user, superuser):
    page = _client(cs_user).get(_change_url(superuser)).content.decode()
    assert "../password/" not in page
    assert "Only a superuser can change" in page


def test_customer_success_sets_a_company_users_password(cs_user):
    agent = UserFactory()
    response = _set_password(_client(cs_user), agent)
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.check_password(NEW_PASSWORD)


def test_a_staff_user_sets_their_own_password_and_stays_logged_in(cs_user):
    client = _client(cs_user)
    response = _set_password(client, cs_user)
    assert response.status_code == 302
    cs_user.refresh_from_db()
    assert cs_user.check_password(NEW_PASSWORD)
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_superuser_sets_another_superusers_password(superuser):
    other = StaffUserFactory(is_superuser=True)
    response = _set_password(_client(superuser), other)
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.check_password(NEW_PASSWORD)


# --- the change form -------------------------------------------------------------


@pytest.mark.parametrize("who", ["superuser", "other_staff"])
def test_customer_success_cannot_change_a_protected_accounts_fields(
    cs_user, request, who
):
    target = request.getfixturevalue(who)
    before = (target.email, target.is_active, target.is_staff, target.is_superuser)
    response = _post_change(
        _client(cs_user),
        target,
        email="attacker@example.com",
        is_active=False,
        is_staff=False,
        is_superuser=False,
        full_name="Renamed",
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert (
        target.email,
        target.is_active,
        target.is_staff,
        target.is_superuser,
    ) == before
    # the harmless fields stay editable
    assert target.full_name == "Renamed"


def test_customer_success_cannot_make_another_staff_user_a_superuser(
    cs_user, other_staff
):
    _post_change(_client(cs_user), other_staff, is_superuser=True)
    other_staff.refresh_from_db()
    assert not other_staff.is_superuser


def test_customer_success_edits_a_company_user(cs_user):
    agent = UserFactory(email="agent@example.com")
    response = _post_change(
        _client(cs_user), agent, email="agent.new@example.com", is_active=False
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.email == "agent.new@example.com"
    assert agent.is_active is False


def test_a_superuser_changes_a_staff_users_fields(superuser, other_staff):
    response = _post_change(
        _client(superuser),
        other_staff,
        email="colleague.new@example.com",
        is_active=False,
    )
    assert response.status_code == 302
    other_staff.refresh_from_db()
    assert other_staff.email == "colleague.new@example.com"
    assert other_staff.is_active is False


# --- deletion ------------------------------------------------------------------


def test_staff_allowed_to_delete_users_cannot_delete_a_superuser(superuser):
    from django.contrib.auth.models import Permission

    deleter = StaffUserFactory()
    deleter.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="accounts",
            codename__in=["view_user", "change_user", "delete_user"],
        )
    )
    client = _client(deleter)
    delete_url = reverse("admin:accounts_user_delete", args=[superuser.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    # nor through the bulk action of the list
    client.post(
        reverse("admin:accounts_user_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [superuser.pk],
            "post": "yes",
        },
    )
    assert type(superuser).objects.filter(pk=superuser.pk).exists()
    # an ordinary company user can still be deleted by them
    agent = UserFactory()
    response = client.post(
        reverse("admin:accounts_user_delete", args=[agent.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not type(agent).objects.filter(pk=agent.pk).exists()
