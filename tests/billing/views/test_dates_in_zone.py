"""Dates printed on the invoice page, its PDF and the month so far are the
company's, in its billing time zone (found from outside: a Madrid October
invoice read "Sept. 30, 2026 – Oct. 31, 2026", a Mexico City one "Oct. 1 – Nov. 1":
the view converted to the company's zone and the ``date`` filter converted back)."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.template.loader import render_to_string
from django.urls import reverse

from billing.services import invoice_compute
from billing.views.invoices import invoice_context
from tests.factories import CompanyAdminFactory, CompanyFactory

pytestmark = pytest.mark.django_db

OCT = date(2026, 10, 1)
ZONES = ["UTC", "Europe/Madrid", "America/Mexico_City", "America/New_York"]


@pytest.fixture(autouse=True)
def _no_sandbox_statuses(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False


def _october(tz: str):
    company = CompanyFactory(billing_timezone=tz, slug=f"co-{tz.lower()}")
    with time_machine.travel(datetime(2026, 11, 2, tzinfo=UTC), tick=False):
        return company, invoice_compute(company=company, month=OCT)


@pytest.mark.parametrize("tz", ZONES)
def test_the_invoice_page_prints_the_period_in_the_company_zone(client, tz):
    company, invoice = _october(tz)
    client.force_login(CompanyAdminFactory(company=company))
    page = client.get(reverse("billing:invoice", args=[invoice.pk])).content.decode()
    assert f"Period Oct. 1, 2026 – Oct. 31, 2026 ({tz})" in page


@pytest.mark.parametrize("tz", ZONES)
def test_the_pdf_prints_the_period_in_the_company_zone(rf, tz):
    company, invoice = _october(tz)
    html = render_to_string(
        "billing/invoice_pdf.html",
        invoice_context(invoice, list(invoice.lines.all())),
        request=rf.get("/"),
    )
    assert (
        f'Oct. 1, 2026 – Oct. 31, 2026 <span class="text-nowrap">({tz})</span></td>'
        in html
    )


def test_the_month_so_far_says_as_of_when_in_the_company_zone(client):
    # given: 23:30 UTC on 15 October is 01:30 on the 16th in Madrid
    company = CompanyFactory(billing_timezone="Europe/Madrid", slug="co-madrid-now")
    client.force_login(CompanyAdminFactory(company=company))
    # when
    with time_machine.travel(datetime(2026, 10, 15, 23, 30, tzinfo=UTC), tick=False):
        page = client.get(reverse("billing:usage")).content.decode()
    # then
    assert "as of Oct. 16, 2026, 1:30 a.m. (Europe/Madrid)" in page
