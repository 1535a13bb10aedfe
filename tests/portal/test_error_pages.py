"""The 403, 404 and 500 pages: plain words, the portal's look, and (403/404) the
navigation, so a user can go back to their pages."""

from html import unescape

import pytest
from django.template.loader import render_to_string
from django.test import override_settings
from django.urls import reverse

from tests.factories import CompanyAdminFactory, CompanyFactory, UserFactory


@pytest.mark.django_db
def test_404_for_a_logged_in_user_keeps_the_navigation(client):
    client.force_login(UserFactory())
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page
    assert "Log out" in page
    assert f'href="{reverse("inbox")}"' in page
    assert 'href="/static/css/app.css"' in page


@pytest.mark.django_db
def test_404_for_an_anonymous_visitor_offers_the_login(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page
    assert f'href="{reverse("login")}"' in page
    assert "Log out" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["billing:invoices", "billing:usage", "billing:pricing"]
)
def test_403_tells_an_agent_billing_is_for_the_company_admins_and_names_them(
    client, name
):
    company = CompanyFactory()
    CompanyAdminFactory(company=company, full_name="Ana Admin")
    CompanyAdminFactory(company=company, full_name="Bruno Boss")
    CompanyAdminFactory(full_name="Other Company Admin")
    CompanyAdminFactory(company=company, full_name="Gone Admin", is_active=False)
    client.force_login(UserFactory(company=company))
    response = client.get(reverse(name))
    assert response.status_code == 403
    page = unescape(response.content.decode())
    assert "Billing is for your company's admins" in page
    assert "Ana Admin" in page and "Bruno Boss" in page
    assert "Other Company Admin" not in page and "Gone Admin" not in page
    assert "Log out" in page
    assert f'href="{reverse("home")}"' in page


@pytest.mark.django_db
def test_403_on_the_licenses_page_says_what_the_page_is(client):
    company = CompanyFactory()
    CompanyAdminFactory(company=company, full_name="Ana Admin")
    client.force_login(UserFactory(company=company))
    response = client.get(reverse("licensing:licenses"))
    assert response.status_code == 403
    page = unescape(response.content.decode())
    assert "Licenses are managed by your company's admins" in page
    assert "Ana Admin" in page


@pytest.mark.urls("tests.portal.error_urls")
@override_settings(DEBUG=False)
def test_500_page_renders_without_a_request_context_or_the_database(client):
    """No django_db mark: any database query in the 500 path fails the test."""
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert 'href="/static/css/app.css"' in page
    assert 'href="/"' in page
    assert " style=" not in page and "<style" not in page


@pytest.mark.django_db
def test_a_company_admin_without_a_license_is_not_told_to_ask_their_company_admin(
    client,
):
    client.force_login(CompanyAdminFactory())
    page = client.get(reverse("home")).content.decode()
    assert "ask your company admin" not in page
    assert "assign yourself one" in page
    assert f'href="{reverse("licensing:licenses")}"' in page


@pytest.mark.django_db
def test_an_agent_without_a_license_is_still_told_to_ask_their_company_admin(client):
    client.force_login(UserFactory())
    page = client.get(reverse("home")).content.decode()
    assert "ask your company admin" in page


@pytest.mark.django_db
def test_a_company_admin_on_the_license_request_page_is_sent_to_the_licenses_page(
    client,
):
    client.force_login(CompanyAdminFactory())
    page = client.get(reverse("licensing:license-request")).content.decode()
    assert "Your company admin decides" not in page
    assert f'href="{reverse("licensing:licenses")}"' in page


@pytest.mark.django_db
def test_the_agents_403_and_the_404_speak_spanish(client):
    company = CompanyFactory()
    CompanyAdminFactory(company=company, full_name="Ana Admin")
    client.force_login(UserFactory(company=company))
    page = client.get(
        reverse("billing:invoices"), HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()
    assert "La facturación es para los administradores de tu empresa: Ana Admin" in page
    page = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Página no encontrada" in page


@pytest.mark.parametrize("name", ["500.html", "503.html"])
def test_the_standalone_error_pages_are_styled_by_the_stylesheets_the_csp_allows(
    name,
):
    """No inline <style> (the CSP's style-src blocks it): the same look as the
    portal, from its stylesheets, with no request and no database."""
    page = render_to_string(name, {"LANGUAGE_CODE": "en"})
    assert "<style" not in page and " style=" not in page
    assert 'href="/static/css/app.css"' in page
    assert 'href="/"' in page
