"""The password pages in the portal's look and language: a forgotten password is
reset from the link emailed, a logged-in user changes theirs; the admin keeps its
own password change page."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import CompanyAdminFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


def _portal_page(response):
    html = response.content.decode()
    assert 'class="navbar navbar-expand-xl' in html  # base.html's top bar
    assert 'id="header"' not in html  # the admin's header
    return html


def test_a_forgotten_password_is_reset_from_the_emailed_link(client):
    user = CompanyAdminFactory(email="ana@example.com")
    html = _portal_page(client.get(reverse("password_reset")))
    assert 'autocomplete="email"' in html and 'for="id_email"' in html

    response = client.post(reverse("password_reset"), {"email": "ana@example.com"})
    assert response.url == reverse("password_reset_done")
    _portal_page(client.get(response.url))
    (email,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", email.body).group(1)

    form = client.get(link, follow=True)
    html = _portal_page(form)
    assert 'type="password"' in html and 'autocomplete="new-password"' in html
    set_url = form.redirect_chain[-1][0]
    done = client.post(
        set_url,
        {
            "new_password1": "a new long passphrase",
            "new_password2": "a new long passphrase",
        },
    )
    assert done.url == reverse("password_reset_complete")
    _portal_page(client.get(done.url))
    user.refresh_from_db()
    assert user.check_password("a new long passphrase")


def test_a_used_reset_link_says_so_and_offers_a_new_one(client):
    html = _portal_page(client.get("/accounts/reset/MQ/not-a-token/"))
    assert "no longer valid" in html
    assert f'href="{reverse("password_reset")}"' in html


def test_a_mismatched_new_password_keeps_the_user_on_the_form_with_the_error(client):
    user = CompanyAdminFactory(email="ana@example.com")
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "pw",
            "new_password1": "a new long passphrase",
            "new_password2": "another passphrase",
        },
    )
    html = _portal_page(response)
    assert response.status_code == 200
    assert 'class="form-control is-invalid"' in html
    assert 'aria-describedby="id_new_password2-errors' in html
    user.refresh_from_db()
    assert user.check_password("pw")


def test_a_user_changes_their_password_in_spanish(client):
    user = CompanyAdminFactory(email="ana@example.com")
    client.force_login(user)
    client.post("/i18n/setlang/", {"language": "es", "next": "/"})
    html = _portal_page(client.get(reverse("password_change")))
    assert "Escribe tu contraseña actual" in html and "Cambiar mi contraseña" in html
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "pw",
            "new_password1": "a new long passphrase",
            "new_password2": "a new long passphrase",
        },
    )
    assert response.url == reverse("password_change_done")
    assert "Tu contraseña se ha cambiado." in _portal_page(client.get(response.url))


def test_the_admin_keeps_its_own_password_change_page(client):
    staff = StaffUserFactory()
    client.force_login(staff)
    response = client.get("/admin/password_change/")
    assert response.status_code == 200
    assert "registration/password_change_form.html" in [
        t.name for t in response.templates
    ]
    assert 'class="navbar navbar-expand-xl' not in response.content.decode()
