"""With the database down, the API answers a JSON 503 with Retry-After (an
integration retries it) and the portal a plain 503 page, never an HTML 500.

The failure happens before any view code can catch it (the token or the session
is looked up in the database), so it is answered by the project's handler500.
"""

import pytest
import requests
from django.db import OperationalError, connection
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.factories import CompanyAdminFactory
from tests.reliability import test_database_outage as outage

# The fixtures of the webhook's outage test, used here too.
admin = outage.admin
quiet_server_errors = outage.quiet_server_errors

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_down(monkeypatch):
    """Every new query fails as a refused connection does."""

    def refused(*args, **kwargs):
        raise OperationalError("connection refused")

    def install():
        monkeypatch.setattr("django.db.backends.utils.CursorWrapper.execute", refused)

    return install


def test_api_answers_json_503_with_retry_after_when_the_database_is_down(
    database_down, quiet_server_errors
):
    token = Token.objects.create(user=CompanyAdminFactory())
    client = Client(raise_request_exception=False)
    database_down()
    response = client.get(
        "/api/conversations/", HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "30"
    assert "detail" in response.json()


def test_portal_answers_a_503_page_with_retry_after_when_the_database_is_down(
    database_down, quiet_server_errors
):
    client = Client(raise_request_exception=False)
    client.force_login(CompanyAdminFactory())
    database_down()
    response = client.get("/inbox/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"].startswith("text/html")
    assert "Temporarily unavailable" in response.content.decode()


def test_other_server_errors_stay_500(monkeypatch, quiet_server_errors):
    from messaging import api

    token = Token.objects.create(user=CompanyAdminFactory())

    def bug(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(api.ConversationListView, "get_queryset", bug)
    client = Client(raise_request_exception=False)
    response = client.get(
        "/api/conversations/", HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert response.status_code == 500
    assert "Retry-After" not in response


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_api_over_http_answers_json_503_while_postgresql_refuses_connections(
    live_server,
    admin,
    quiet_server_errors,
):
    token = Token.objects.create(user=CompanyAdminFactory())
    name = connection.settings_dict["NAME"]
    connection.ensure_connection()
    outage._database_refuses_connections(admin, name)
    try:
        response = requests.get(
            f"{live_server.url}/api/conversations/",
            headers={"Authorization": f"Token {token.key}"},
            timeout=30,
        )
    finally:
        outage._database_back(admin, name)
        connection.close()
    assert response.status_code == 503, response.text[:300]
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Retry-After"] == "30"
    assert "detail" in response.json()
    # back: the same request answers
    again = requests.get(
        f"{live_server.url}/api/conversations/",
        headers={"Authorization": f"Token {token.key}"},
        timeout=30,
    )
    assert again.status_code == 200
