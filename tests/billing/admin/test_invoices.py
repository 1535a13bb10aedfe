"""The invoice admin as Customer Success clicks it: the list, an invoice, the
actions and the billing run button, through the test client."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from billing.models import BillingRun, Invoice
from billing.services import invoice_compute
from tests.billing.admin.helpers import INVOICES, NOV, OCT, T
from tests.billing.admin.helpers import action as _action
from tests.billing.admin.helpers import draft as _draft
from tests.billing.admin.helpers import empty_invoices as _empty_invoices
from tests.billing.admin.helpers import finalized as _finalized
from tests.billing.admin.helpers import messages as _messages
from tests.billing.admin.helpers import queries as _queries
from tests.billing.admin.helpers import world as _world
from tests.factories import CompanyFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_now")]


# --- lists ---------------------------------------------------------------------------


def test_invoice_list_query_count_does_not_grow_with_rows(
    cs_client, django_assert_max_num_queries
):
    # given 3 invoices
    _empty_invoices(3)
    with django_assert_max_num_queries(15):
        few = _queries(cs_client, INVOICES)
    # when there are 30
    _empty_invoices(27)
    # then the page needs no more queries
    with django_assert_max_num_queries(few):
        response = cs_client.get(INVOICES)
    assert response.context["cl"].result_count == 30


def test_invoice_list_shows_company_month_number_status_and_total(cs_client, rates):
    invoice = _finalized(_world(rates, tax_rate=Decimal("0.21")))
    response = cs_client.get(INVOICES)
    html = response.content.decode()
    assert invoice.number in html
    assert invoice.company.name in html
    assert "October 2026" in html
    assert "0.30 EUR" in html  # 4 × 0.0615 = 0.246 → 0.25, tax 0.05
    assert "Finalized" in html


def test_invoice_list_filters_by_month_status_company_and_searches(cs_client, rates):
    # given
    finalized = _finalized(_world(rates))
    draft_nov = invoice_compute(company=finalized.company, month=NOV)
    other = _empty_invoices(1)[0]

    def listed(**params):
        response = cs_client.get(INVOICES, params)
        assert response.status_code == 200
        return {i.pk for i in response.context["cl"].result_list}

    # then
    assert listed(month="2026-10") == {finalized.pk, other.pk}
    assert listed(month="2026-11") == {draft_nov.pk}
    assert listed(month="nonsense") == set()
    assert listed(status="draft") == {draft_nov.pk, other.pk}
    assert listed(company__id__exact=finalized.company_id) == {
        finalized.pk,
        draft_nov.pk,
    }
    assert listed(q=finalized.number) == {finalized.pk}
    assert listed(q=other.company.name) == {other.pk}
    months = cs_client.get(INVOICES).content.decode()
    assert "October 2026" in months and "November 2026" in months


# --- invoice detail -------------------------------------------------------------------


def test_invoice_detail_is_read_only_with_lines_and_a_link_to_its_charges(
    cs_client, rates
):
    # given
    invoice = _finalized(_world(rates))
    url = reverse("admin:billing_invoice_change", args=[invoice.pk])
    # when
    response = cs_client.get(url)
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Marketing templates, Spain" in html
    charges = reverse("admin:billing_charge_changelist") + f"?invoice={invoice.pk}"
    assert f'href="{charges}"' in html
    assert "4 delivered templates" in html
    assert 'name="subtotal"' not in html and 'name="_save"' not in html
    # and it cannot be edited, added or deleted
    assert cs_client.post(url, {"status": "draft"}).status_code == 403
    assert cs_client.get(reverse("admin:billing_invoice_add")).status_code == 403
    delete = reverse("admin:billing_invoice_delete", args=[invoice.pk])
    assert cs_client.post(delete, {"post": "yes"}).status_code == 403
    invoice.refresh_from_db()
    assert invoice.status == "finalized"


def test_invoice_detail_shows_every_field(cs_client, rates):
    invoice = _finalized(_world(rates))
    url = reverse("admin:billing_invoice_change", args=[invoice.pk])
    html = cs_client.get(url).content.decode()
    from billing.admin.invoices import InvoiceAdmin

    for field in Invoice._meta.concrete_fields:
        if not field.primary_key:
            shown = InvoiceAdmin.DISPLAYED.get(field.name, field.name)
            assert f"field-{shown}" in html, field.name


# --- invoice actions --------------------------------------------------------------------


def test_recompute_a_draft(cs_client, rates):
    # given a draft, then one more delivered message
    world = _world(rates, marketing=1)
    draft = _draft(world)
    world.send_and_deliver("marketing", T + timedelta(days=1))
    # when
    response = _action(cs_client, "recompute", [draft])
    # then
    draft.refresh_from_db()
    assert draft.total == Decimal("0.12")
    assert _messages(response) == [f"{draft}: recomputed, total 0.12 EUR."]


def test_recompute_refuses_a_finalized_invoice_and_nothing_changes(cs_client, rates):
    world = _world(rates, marketing=1)
    invoice = _finalized(world)
    world.send_and_deliver("marketing", T + timedelta(days=1))
    response = _action(cs_client, "recompute", [invoice])
    assert _messages(response) == [
        f"{invoice.number}: it is finalized, and finalized invoices never change; "
        "correct it with a credit note."
    ]
    assert response.context["messages"]._loaded_messages[0].level_tag == "error"
    invoice.refresh_from_db()
    assert invoice.total == Decimal("0.06")


def test_finalize_numbers_the_draft(cs_client, rates):
    draft = _draft(_world(rates))
    response = _action(cs_client, "finalize", [draft])
    draft.refresh_from_db()
    assert (draft.status, draft.number) == ("finalized", "INV-2026-000001")
    assert _messages(response) == [
        f"{Invoice(company=draft.company, month=OCT)}: finalized as "
        "INV-2026-000001, total 0.25 EUR."
    ]


def test_finalize_refuses_a_month_not_ended_and_reports_each_invoice(cs_client, rates):
    world = _world(rates)
    october = _draft(world)
    november = invoice_compute(company=world.company, month=NOV)
    response = _action(cs_client, "finalize", [october, november])
    messages = _messages(response)
    assert messages[0].endswith("finalized as INV-2026-000001, total 0.25 EUR.")
    assert "has not ended yet" in messages[1]
    november.refresh_from_db()
    assert (november.status, november.number) == ("draft", None)


def test_mark_paid(cs_client, rates):
    invoice = _finalized(_world(rates))
    draft = _draft(_world(rates))
    response = _action(cs_client, "mark_paid", [invoice, draft])
    invoice.refresh_from_db()
    draft.refresh_from_db()
    assert (invoice.status, draft.status) == ("paid", "draft")
    assert _messages(response) == [
        f"{invoice.number}: marked paid.",
        f"{draft} is draft; it cannot become paid.",
    ]


def test_void_asks_for_a_reason_on_a_confirmation_page(cs_client, rates):
    # given
    invoice = _finalized(_world(rates))
    # when the action is chosen
    page = _action(cs_client, "void", [invoice])
    # then a confirmation page asks why, and nothing happened yet
    assert page.templates[0].name == "admin/billing/invoice/void.html"
    assert 'name="reason"' in page.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == "finalized"
    # an empty reason is refused
    again = _action(cs_client, "void", [invoice], post="yes", reason="  ")
    assert again.context["form"].errors["reason"]
    invoice.refresh_from_db()
    assert invoice.status == "finalized"
    # when confirmed with a reason
    done = _action(
        cs_client, "void", [invoice], post="yes", reason="Issued to the wrong entity"
    )
    # then
    invoice.refresh_from_db()
    assert (invoice.status, invoice.void_reason) == (
        "void",
        "Issued to the wrong entity",
    )
    assert _messages(done) == [
        f"{invoice.number}: voided (Issued to the wrong entity); it keeps its number."
    ]


def test_void_of_a_draft_is_refused(cs_client, rates):
    draft = _draft(_world(rates))
    response = _action(cs_client, "void", [draft], post="yes", reason="Mistake")
    assert _messages(response) == [f"{draft} is draft; it cannot become void."]
    draft.refresh_from_db()
    assert draft.status == "draft"


# --- run billing --------------------------------------------------------------------------


def test_run_billing_button_computes_and_reports_per_company(cs_client, rates):
    # given
    world = _world(rates)
    quiet = CompanyFactory(slug="quiet-co")
    changelist = cs_client.get(INVOICES).content.decode()
    url = reverse("admin:billing_invoice_run_billing")
    assert f'href="{url}"' in changelist
    form = cs_client.get(url)
    assert form.context["form"]["month"].value() == "2026-10"
    # when
    response = cs_client.post(url, {"month": "2026-10"}, follow=True)
    # then
    lines = [str(r) for r in response.context["results"]]
    assert lines == sorted(
        [
            f"{world.company.slug} 2026-10: draft created, total 0.25 EUR",
            "quiet-co 2026-10: draft created, total 0.00 EUR",
        ]
    )
    assert _messages(response) == ["2 companies: 2 draft created."]
    assert Invoice.objects.filter(month=OCT).count() == 2
    assert BillingRun.objects.get().triggered_by.startswith("admin: ")
    # and again, for one company, finalizing
    again = cs_client.post(
        url, {"month": "2026-10", "company": quiet.pk, "finalize": "on"}
    )
    assert [str(r) for r in again.context["results"]] == [
        "quiet-co 2026-10: finalized INV-2026-000001, total 0.00 EUR"
    ]
    assert Invoice.objects.filter(month=OCT).count() == 2


def test_run_billing_reports_errors(cs_client, rates):
    CompanyFactory(slug="nov-co")
    url = reverse("admin:billing_invoice_run_billing")
    bad = cs_client.post(url, {"month": "2026-13"})
    assert bad.context["form"].errors["month"] == [
        "'2026-13' is not a month: use YYYY-MM, for example 2026-10."
    ]
    assert not Invoice.objects.exists()
    early = cs_client.post(url, {"month": "2026-11", "finalize": "on"}, follow=True)
    assert early.context["results"] is None
    assert early.context["form"].errors["month"] == [
        "November 2026 has not ended yet in any company's time zone. November 2026 "
        "has not ended yet in UTC: it ends on 2026-12-01 00:00 there (2026-12-01 "
        "00:00 UTC); nothing was computed."
    ]
    assert not Invoice.objects.exists() and not BillingRun.objects.exists()


def test_run_billing_refuses_a_month_not_ended_in_the_company_zone(cs_client, cs_user):
    # given companies in Madrid and UTC; 1 December 00:30 in Madrid is still
    # 30 November 23:30 in UTC
    madrid = CompanyFactory(slug="madrid", billing_timezone="Europe/Madrid")
    utc = CompanyFactory(slug="utc-co", billing_timezone="UTC")
    url = reverse("admin:billing_invoice_run_billing")
    with time_machine.travel(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), tick=False):
        cs_client.force_login(cs_user)  # a fresh session at that time
        # when: November for the UTC company
        refused = cs_client.post(url, {"month": "2026-11", "company": utc.pk})
        # then: a form error naming the month and when it ends there
        assert refused.status_code == 200
        assert refused.context["form"].errors["month"] == [
            "November 2026 has not ended yet in UTC: it ends on 2026-12-01 00:00 "
            "there (2026-12-01 00:00 UTC); nothing was computed."
        ]
        assert not Invoice.objects.exists() and not BillingRun.objects.exists()
        # every company: Madrid is billed, the UTC company skipped with its line
        response = cs_client.post(url, {"month": "2026-11"}, follow=True)
    assert [str(r) for r in response.context["results"]] == [
        "madrid 2026-11: draft created, total 0.00 EUR",
        "utc-co 2026-11: skipped: November 2026 has not ended yet in UTC: it ends on "
        "2026-12-01 00:00 there (2026-12-01 00:00 UTC); nothing was computed.",
    ]
    assert _messages(response) == [
        "2 companies: 1 draft created, 1 skipped (month not ended)."
    ]
    assert list(Invoice.objects.values_list("company", "month")) == [(madrid.pk, NOV)]
