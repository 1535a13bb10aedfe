"""The billing pages within the portal through the test client: a new
company's empty states, agents kept out, and the licenses page beside them."""

import pytest
from django.urls import reverse

from tests.billing.views.helpers import OCT
from tests.billing.views.helpers import login as _login
from tests.factories import CompanyAdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_new_company_sees_empty_states_not_errors(client):
    admin = CompanyAdminFactory()
    _login(client, admin)
    assert "No invoices yet" in client.get(reverse("billing:invoices")).content.decode()
    assert client.get(reverse("billing:usage")).status_code == 200
    assert client.get(reverse("licensing:licenses")).status_code == 200


@pytest.mark.parametrize(
    "name,args",
    [
        ("billing:invoices", []),
        ("billing:usage", []),
        ("licensing:licenses", []),
        ("billing:invoice", ["x"]),
    ],
)
def test_agents_get_403_on_billing_pages(client, world, name, args):
    invoice = world.invoice(OCT)
    agent = UserFactory(company=world.company)
    url = reverse(name, args=[invoice.pk] if args else [])
    assert _login(client, agent).get(url).status_code == 403


def test_licenses_page_shows_who_holds_one(client, world):
    page = (
        _login(client, world.admin).get(reverse("licensing:licenses")).content.decode()
    )
    assert world.agent.email in page
    assert world.admin.email in page  # read-only user
    assert "€15.00" in page
