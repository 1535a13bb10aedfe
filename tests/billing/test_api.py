"""Billing's JSON API: company admins read invoices, credit notes and the month
so far; money as strings in the currency's minor unit, datetimes in UTC."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from tests.billing_world import World, rate_card
from tests.factories import (
    CompanyAdminFactory,
    CompanyFactory,
    InvoiceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)


def token_client(user) -> Client:
    token = Token.objects.create(user=user)
    return Client(headers={"Authorization": f"Token {token.key}"})


@pytest.fixture
def company():
    return CompanyFactory()


@pytest.fixture
def admin(company):
    return CompanyAdminFactory(company=company)


def test_billing_api_is_for_company_admins(company, admin):
    invoice = InvoiceFactory(company=company, status=Invoice.Status.DRAFT)
    agent = UserFactory(company=company)
    url = reverse("api-invoice-detail", args=[invoice.pk])

    anonymous = Client().get(url)
    as_agent = token_client(agent).get(url)
    as_admin = token_client(admin).get(url)

    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Token"
    assert as_agent.status_code == 403
    assert as_admin.status_code == 200


def test_the_portal_session_works_too_and_agents_get_403(company, admin):
    client = Client()
    client.force_login(UserFactory(company=company))
    assert client.get(reverse("api-invoice-list")).status_code == 403
    client.force_login(admin)
    assert client.get(reverse("api-invoice-list")).status_code == 200


def test_invoice_list_newest_first_with_month_and_status_filters(company, admin):
    sep = InvoiceFactory(
        company=company,
        month=date(2026, 9, 1),
        period_start=datetime(2026, 9, 1, tzinfo=UTC),
        period_end=datetime(2026, 10, 1, tzinfo=UTC),
        status=Invoice.Status.PAID,
    )
    oct_ = InvoiceFactory(company=company, status=Invoice.Status.DRAFT)
    InvoiceFactory(status=Invoice.Status.DRAFT)  # another company's
    client = token_client(admin)
    url = reverse("api-invoice-list")

    every = client.get(url).json()
    october = client.get(url, {"month": "2026-10"}).json()
    paid = client.get(url, {"status": "paid"}).json()
    bad_month = client.get(url, {"month": "October"})
    bad_status = client.get(url, {"status": "lost"})

    assert every["count"] == 2
    assert [i["id"] for i in every["results"]] == [oct_.pk, sep.pk]
    assert [i["month"] for i in every["results"]] == ["2026-10", "2026-09"]
    assert [i["id"] for i in october["results"]] == [oct_.pk]
    assert [i["id"] for i in paid["results"]] == [sep.pk]
    assert bad_month.status_code == 400
    assert "month" in bad_month.json()
    assert bad_status.status_code == 400


@pytest.mark.parametrize(
    "currency,amount,shown", [("EUR", "18.365", "18.37"), ("JPY", "1234.5", "1235")]
)
def test_money_is_a_string_in_the_currency_minor_unit(currency, amount, shown):
    company = CompanyFactory(billing_currency=currency)
    invoice = InvoiceFactory(
        company=company,
        currency=currency,
        subtotal=Decimal(amount),
        total=Decimal(amount),
        status=Invoice.Status.FINALIZED,
        finalized_at=datetime(2026, 11, 4, tzinfo=UTC),
    )
    line = InvoiceLine.objects.create(
        invoice=invoice,
        kind=InvoiceLine.Kind.USAGE,
        description="Marketing",
        category="marketing",
        quantity=Decimal("3"),
        unit_price=Decimal("0.0615"),
        amount=Decimal(amount),
    )
    note = CreditNote.objects.create(
        invoice=invoice,
        number="CN-2026-000001",
        reason="Goodwill",
        currency=currency,
        subtotal=Decimal(amount),
        tax=Decimal("0"),
        total=Decimal(amount),
        created_at=datetime(2026, 11, 5, 8, 30, tzinfo=UTC),
    )
    CreditNoteLine.objects.create(
        credit_note=note, invoice_line=line, description="Marketing", amount=amount
    )
    client = token_client(CompanyAdminFactory(company=company))

    body = client.get(reverse("api-invoice-detail", args=[invoice.pk])).json()
    credit = client.get(reverse("api-credit-note-detail", args=[note.pk])).json()
    listed = client.get(reverse("api-credit-note-list")).json()

    assert (body["currency"], body["subtotal"], body["total"]) == (
        currency,
        shown,
        shown,
    )
    assert body["finalized_at"] == "2026-11-04T00:00:00Z"
    [line_body] = body["lines"]
    assert line_body["amount"] == shown
    assert line_body["unit_price"] == "0.061500"
    assert line_body["market"] is None
    assert credit["number"] == "CN-2026-000001"
    assert credit["invoice"] == invoice.pk
    assert credit["reason"] == "Goodwill"
    assert (credit["total"], credit["currency"]) == (shown, currency)
    assert credit["created_at"] == "2026-11-05T08:30:00Z"
    assert [x["amount"] for x in credit["lines"]] == [shown]
    assert [x["id"] for x in listed["results"]] == [note.pk]


def test_another_company_s_credit_note_is_404(company, admin):
    other = InvoiceFactory(status=Invoice.Status.FINALIZED)
    note = CreditNote.objects.create(
        invoice=other,
        number="CN-2026-000009",
        reason="x",
        currency="EUR",
        subtotal=1,
        tax=0,
        total=1,
    )
    client = token_client(admin)
    assert (
        client.get(reverse("api-credit-note-detail", args=[note.pk])).status_code == 404
    )
    assert client.get(reverse("api-credit-note-list")).json()["results"] == []


def test_a_license_line_has_no_charges_behind_it(company, admin):
    invoice = InvoiceFactory(company=company, status=Invoice.Status.DRAFT)
    line = InvoiceLine.objects.create(
        invoice=invoice, kind=InvoiceLine.Kind.LICENSE, description="Licenses", amount=1
    )
    url = reverse("api-invoice-line-charges", args=[invoice.pk, line.pk])
    assert token_client(admin).get(url).status_code == 404


def test_usage_is_the_month_so_far_and_saves_nothing(client):
    rate_card(
        rates={("Spain", "marketing"): "0.0615"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world = World(client, start=T)
    for i in range(3):
        world.send_and_deliver("marketing", T + timedelta(minutes=i))
    admin = CompanyAdminFactory(company=world.company)
    now = T + timedelta(days=1)
    with time_machine.travel(now, tick=False):
        response = token_client(admin).get(reverse("api-usage"))
    assert response.status_code == 200
    body = response.json()
    assert body["month"] == "2026-10"
    assert body["currency"] == "EUR"
    # As of the last sync: the third delivery's status, synced on commit.
    assert body["as_of"] == "2026-10-06T09:02:00Z"
    usage = [line for line in body["lines"] if line["kind"] == "usage"]
    assert [(u["category"], u["quantity"], u["amount"]) for u in usage] == [
        ("marketing", "3.0000", "0.18")
    ]
    assert usage[0]["market"] == "Spain"
    assert body["subtotal"] == body["total"]
    assert not Invoice.objects.filter(company=world.company).exists()
