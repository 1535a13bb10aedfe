"""A user's language: chosen with the top bar's switch, kept on the user, used on
every device and for the emails they get; empty means the company's language."""

import pytest
from django.urls import reverse

from accounts import rules
from accounts.models import User
from accounts.selectors import billing_recipients
from tests.factories import CompanyAdminFactory, CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("country", "language"),
    [("ES", "es"), ("MX", "es"), ("ar", "es"), ("US", "en"), ("DE", "en"), ("", "en")],
)
def test_company_language_follows_the_country(country, language):
    assert rules.company_language(country=country) == language


def test_a_recipients_own_choice_wins_when_the_product_speaks_it():
    available = ("en", "es")
    assert (
        rules.email_language(preferred="en", country="MX", available=available) == "en"
    )
    assert rules.email_language(preferred="", country="MX", available=available) == "es"
    assert (
        rules.email_language(preferred="fr", country="US", available=available) == "en"
    )


def test_the_switch_keeps_a_signed_in_users_language(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("set_language"), {"language": "es", "next": reverse("home")}
    )
    assert response.status_code == 302 and response.url == reverse("home")
    assert User.objects.get(pk=user.pk).language == "es"
    # and another browser of the same user, asking for English, gets Spanish
    other = client.__class__(HTTP_ACCEPT_LANGUAGE="en")
    other.force_login(user)
    assert other.get(reverse("home")).headers["Content-Language"] == "es"


def test_an_unknown_language_changes_nothing(client):
    user = UserFactory(language="en")
    client.force_login(user)
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    assert User.objects.get(pk=user.pk).language == "en"


def test_the_switch_still_works_signed_out(client):
    response = client.post(reverse("set_language"), {"language": "es", "next": "/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "es"


def test_billing_recipients_are_the_active_admins_and_the_billing_email_once():
    company = CompanyFactory(country="US", billing_email="ap@globex.example")
    CompanyAdminFactory(company=company, email="b@globex.example", language="es")
    CompanyAdminFactory(company=company, email="a@globex.example")
    CompanyAdminFactory(company=company, email="gone@globex.example", is_active=False)
    UserFactory(company=company, email="agent@globex.example")
    assert [(r.email, r.language) for r in billing_recipients(company=company)] == [
        ("a@globex.example", "en"),
        ("b@globex.example", "es"),
        ("ap@globex.example", "en"),
    ]
    # an admin who is also the billing email gets it once, in their language
    company.billing_email = "B@globex.example"
    assert [r.email for r in billing_recipients(company=company)] == [
        "a@globex.example",
        "b@globex.example",
    ]
