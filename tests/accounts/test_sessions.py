"""A deactivated user's sessions end for good: reactivating the account does not
bring back a session opened before the deactivation, whatever the session
backend. New logins work, and a user's own password change keeps their current
session."""

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from accounts.services import user_sessions_revoke
from tests.accounts.admin_forms import post_change
from tests.factories import CompanyAdminFactory

pytestmark = pytest.mark.django_db

SESSION_ENGINES = [
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
]


def _logged_in(email: str, password: str = "pw") -> Client:
    client = Client()
    response = client.post(reverse("login"), {"username": email, "password": password})
    assert response.status_code == 302 and response.url == reverse("home")
    return client


def _is_logged_in(client) -> bool:
    response = client.get(reverse("home"))
    if response.status_code == 302:
        assert response.url.startswith(reverse("login"))
        return False
    assert response.status_code == 200
    return True


@pytest.mark.parametrize("engine", SESSION_ENGINES)
def test_a_reactivated_users_old_session_stays_dead(settings, cs_client, engine):
    settings.SESSION_ENGINE = engine
    user = CompanyAdminFactory(email="ana@example.com")
    old = _logged_in("ana@example.com")
    assert _is_logged_in(old)

    # Customer Success deactivate the account in the admin ...
    assert post_change(cs_client, user, is_active=False).status_code == 302
    assert not _is_logged_in(old)
    # ... and reactivate it later
    user.refresh_from_db()
    assert post_change(cs_client, user, is_active=True).status_code == 302
    user.refresh_from_db()
    assert user.is_active

    # the session opened before the deactivation is still logged out
    assert not _is_logged_in(old)
    # and a new login works
    assert _is_logged_in(_logged_in("ana@example.com"))


def test_saving_an_active_user_keeps_their_sessions(cs_client):
    user = CompanyAdminFactory(email="ana@example.com")
    session = _logged_in("ana@example.com")
    assert post_change(cs_client, user, full_name="Ana María").status_code == 302
    assert _is_logged_in(session)


@pytest.mark.parametrize("engine", SESSION_ENGINES)
def test_user_sessions_revoke_ends_every_session_of_the_user(settings, engine):
    settings.SESSION_ENGINE = engine
    user = CompanyAdminFactory(email="ana@example.com")
    other = CompanyAdminFactory(email="ben@example.com", company=user.company)
    first, second = _logged_in("ana@example.com"), _logged_in("ana@example.com")
    bystander = _logged_in("ben@example.com")

    user_sessions_revoke(user=user)

    assert not _is_logged_in(first)
    assert not _is_logged_in(second)
    assert _is_logged_in(bystander)
    assert other.session_epoch == 0


def test_the_session_hash_is_djangos_until_a_revocation():
    """Existing sessions survive the deploy: epoch 0 hashes as Django does."""
    user = CompanyAdminFactory()
    assert user.session_epoch == 0
    assert user.get_session_auth_hash() == AbstractBaseUser.get_session_auth_hash(user)
    user_sessions_revoke(user=user)
    assert user.session_epoch == 1
    assert user.get_session_auth_hash() != AbstractBaseUser.get_session_auth_hash(user)


def test_a_revocation_also_changes_the_hashes_under_old_secret_keys(settings):
    settings.SECRET_KEY_FALLBACKS = ["an-old-secret-key-0123456789abcdef0123456789"]
    user = CompanyAdminFactory()
    before = list(user.get_session_auth_fallback_hash())
    assert before == list(AbstractBaseUser.get_session_auth_fallback_hash(user))
    user_sessions_revoke(user=user)
    after = list(user.get_session_auth_fallback_hash())
    assert len(after) == 1 and after != before


def test_own_password_change_keeps_the_current_session_after_a_revocation():
    user = CompanyAdminFactory(email="ana@example.com")
    user_sessions_revoke(user=user)
    session = _logged_in("ana@example.com")
    elsewhere = _logged_in("ana@example.com")
    new = "Another-long-passphrase-77"
    response = session.post(
        reverse("password_change"),
        {"old_password": "pw", "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert _is_logged_in(session)
    # the password change ends the other sessions, as Django does
    assert not _is_logged_in(elsewhere)


def test_deactivation_in_the_admin_also_deletes_the_users_api_tokens(cs_client):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    # given: an integration token of a user, and a colleague's
    user = CompanyAdminFactory(email="ana@example.com")
    colleague = CompanyAdminFactory(email="ben@example.com", company=user.company)
    token, kept = Token.objects.create(user=user), Token.objects.create(user=colleague)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/conversations/").status_code == 200
    # when: Customer Success deactivate, then reactivate the user
    assert post_change(cs_client, user, is_active=False).status_code == 302
    user.refresh_from_db()
    assert post_change(cs_client, user, is_active=True).status_code == 302
    # then: the old token no longer works; the colleague's does
    assert api.get("/api/conversations/").status_code == 401
    assert list(Token.objects.values_list("key", flat=True)) == [kept.key]
