"""Login, logout and throttling of repeated failures (django-axes)."""

import pytest
from django.urls import reverse

from tests.factories import CompanyAdminFactory

pytestmark = pytest.mark.django_db


def _attempt(client, email, password):
    return client.post(reverse("login"), {"username": email, "password": password})


def test_a_company_user_logs_in_and_out(client):
    user = CompanyAdminFactory(email="ana@example.com")
    response = _attempt(client, "ana@example.com", "pw")
    assert response.status_code == 302 and response.url == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302
    assert user.is_authenticated


def test_login_is_throttled_after_five_failures_even_with_the_right_password(
    client, settings
):
    CompanyAdminFactory(email="ana@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _attempt(client, "ana@example.com", "wrong").status_code == 200
    locked = _attempt(client, "ana@example.com", "wrong")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    # the right password does not get in while locked
    assert _attempt(client, "ana@example.com", "pw").status_code == 429
    assert client.get(reverse("home")).status_code == 302


def test_failures_for_another_account_do_not_lock_this_one(client, settings):
    CompanyAdminFactory(email="ana@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _attempt(client, "someone@example.com", "wrong")
    assert _attempt(client, "ana@example.com", "pw").status_code == 302


def test_password_reset_sends_an_email(client, mailoutbox):
    CompanyAdminFactory(email="ana@example.com")
    response = client.post(reverse("password_reset"), {"email": "ana@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and "ana@example.com" in mailoutbox[0].to


def test_forms_carry_csrf_tokens(client):
    csrf_client = client.__class__(enforce_csrf_checks=True)
    CompanyAdminFactory(email="ana@example.com")
    response = csrf_client.post(
        reverse("login"), {"username": "ana@example.com", "password": "pw"}
    )
    assert response.status_code == 403
    page = csrf_client.get(reverse("login")).content.decode()
    assert "csrfmiddlewaretoken" in page


def test_login_is_throttled_per_account_across_addresses(client, settings):
    """An attacker who changes address at every try still gets only the limit of
    failures on one account; the right password from yet another address is then
    refused too, with the lockout page."""
    CompanyAdminFactory(email="ana@example.com")
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(
            reverse("login"),
            {"username": "ana@example.com", "password": "wrong"},
            REMOTE_ADDR=f"203.0.113.{i + 1}",
        )
        assert response.status_code == 200
    locked = client.post(
        reverse("login"),
        {"username": "ana@example.com", "password": "wrong"},
        REMOTE_ADDR="203.0.113.50",
    )
    assert locked.status_code == 429
    response = client.post(
        reverse("login"),
        {"username": "ana@example.com", "password": "pw"},
        REMOTE_ADDR="198.51.100.7",
    )
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert client.get(reverse("home")).status_code == 302


def test_an_account_locked_from_elsewhere_does_not_lock_other_accounts(
    client, settings
):
    CompanyAdminFactory(email="ana@example.com")
    CompanyAdminFactory(email="ben@example.com")
    for i in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            reverse("login"),
            {"username": "ana@example.com", "password": "wrong"},
            REMOTE_ADDR=f"203.0.113.{i + 1}",
        )
    response = client.post(
        reverse("login"),
        {"username": "ben@example.com", "password": "pw"},
        REMOTE_ADDR="203.0.113.1",
    )
    assert response.status_code == 302
