"""F7 in billing's API (additive): due date and payment terms, the customer
status, credits applied, amount paid and due, both tax IDs."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from billing.models import CreditNote, Invoice
from tests.billing.test_api import token_client
from tests.factories import CompanyAdminFactory, CompanyFactory, InvoiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def company():
    return CompanyFactory(
        billing_timezone="Europe/Madrid", tax_id="ESA58818501", legal_name="Acme"
    )


def _open(company, **kw):
    return InvoiceFactory(
        company=company,
        status=Invoice.Status.FINALIZED,
        total=Decimal("18.37"),
        due_date=date(2026, 12, 4),
        payment_terms_days=30,
        billing_details={"name": "Acme", "tax_id": "ESB12345674"},
        issuer_details={"legal_name": "Issuer S.A.", "tax_id": "ESA58818501"},
        **kw,
    )


def test_an_invoice_carries_its_due_date_status_amounts_and_tax_ids(company):
    invoice = _open(company)
    CreditNote.objects.create(
        invoice=invoice,
        number="CN-2026-000001",
        currency="EUR",
        subtotal=Decimal("0.06"),
        tax=Decimal("0.01"),
        total=Decimal("0.07"),
    )
    client = token_client(CompanyAdminFactory(company=company))
    with time_machine.travel(datetime(2026, 12, 4, 22, 0, tzinfo=UTC), tick=False):
        body = client.get(reverse("api-invoice-detail", args=[invoice.pk])).json()
    assert body["due_date"] == "2026-12-04"
    assert body["payment_terms_days"] == 30
    assert body["customer_status"] == "open"
    assert body["credits_applied"] == "0.07"
    assert body["amount_paid"] == "0.00"
    assert body["amount_due"] == "18.30"
    assert body["customer_tax_id"] == "ESB12345674"  # frozen, not the current one
    assert body["issuer_tax_id"] == "ESA58818501"
    # 23:00 UTC is midnight in Madrid: overdue from then on
    with time_machine.travel(datetime(2026, 12, 4, 23, 0, tzinfo=UTC), tick=False):
        body = client.get(reverse("api-invoice-detail", args=[invoice.pk])).json()
    assert body["customer_status"] == "overdue"


def test_the_list_filters_by_customer_status(company):
    overdue = _open(company, month=date(2026, 9, 1))
    overdue.due_date = date(2026, 11, 1)
    overdue.save()
    _open(company)
    draft = InvoiceFactory(company=company, month=date(2026, 11, 1))
    client = token_client(CompanyAdminFactory(company=company))
    url = reverse("api-invoice-list")
    with time_machine.travel(datetime(2026, 11, 20, tzinfo=UTC), tick=False):
        overdue_ids = [
            i["id"]
            for i in client.get(url, {"customer_status": "overdue"}).json()["results"]
        ]
        drafts = client.get(url, {"customer_status": "draft"}).json()["results"]
        refused = client.get(url, {"customer_status": "late"})
    assert overdue_ids == [overdue.pk]
    assert [i["id"] for i in drafts] == [draft.pk]
    assert drafts[0]["amount_due"] is None and drafts[0]["due_date"] is None
    assert drafts[0]["customer_tax_id"] == "ESA58818501"  # a draft: the current one
    assert drafts[0]["issuer_tax_id"] == "ESB12345674"  # the settings' issuer
    assert refused.status_code == 400
