"""The billing admin as Customer Success clicks it, through the test client."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import (
    BillingRun,
    Charge,
    CreditNote,
    Invoice,
    InvoiceLine,
    Market,
    Rate,
    RateCard,
)
from billing.services import invoice_compute, invoice_finalize
from messaging.models import Message
from tests.billing_world import World, rate_card
from tests.factories import (
    CompanyAdminFactory,
    CompanyFactory,
    ConversationFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)
NOV = date(2026, 11, 1)
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)  # October has ended everywhere
INVOICES = reverse("admin:billing_invoice_changelist")
_wa_ids = count(1)


@pytest.fixture(autouse=True)
def _now(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def rates():
    return rate_card(
        rates={
            ("Spain", "marketing"): "0.0615",
            ("Spain", "utility"): "0.0200",
            ("Spain", "authentication"): "0.0300",
        },
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _world(rates, *, marketing: int = 4, **kw) -> World:
    world = World(Client(), start=T, wa_id=f"346001{next(_wa_ids):05d}", **kw)
    for i in range(marketing):
        world.send_and_deliver("marketing", T + timedelta(hours=i))
    return world


def _draft(world: World) -> Invoice:
    return world.invoice(OCT, at=NOW)


def _finalized(world: World) -> Invoice:
    return invoice_finalize(invoice=_draft(world))


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _action(client, action, invoices, **data):
    return client.post(
        INVOICES,
        {"action": action, "_selected_action": [i.pk for i in invoices], **data},
        follow=True,
    )


def _empty_invoices(n: int) -> list[Invoice]:
    return [invoice_compute(company=CompanyFactory(), month=OCT) for _ in range(n)]


def _charges(invoice: Invoice, n: int) -> None:
    """Charges written directly: for list pages, not for billing logic."""
    conversation = ConversationFactory(business_number__company=invoice.company)
    spain = Market.objects.get(name="Spain")
    for i in range(n):
        message = Message.objects.create(
            company=invoice.company,
            conversation=conversation,
            direction=Message.Direction.OUTBOUND,
            type="template",
            template_category="marketing",
            wamid=f"wamid.ADMIN{invoice.pk}-{i}",
            provider_timestamp=T,
            status=Message.Status.DELIVERED,
            delivered_at=T,
        )
        Charge.objects.create(
            message=message,
            company=invoice.company,
            category="marketing",
            market=spain,
            delivered_at=T,
            billable=True,
            reason="charged_marketing",
            rate=Decimal("0.0615"),
            amount=Decimal("0.0615"),
            currency="EUR",
            invoice=invoice,
        )


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


# --- lists ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model", ["market", "marketprefix", "ratecard", "invoice", "charge", "creditnote"]
)
def test_customer_success_sees_every_billing_list(cs_client, model):
    assert (
        cs_client.get(reverse(f"admin:billing_{model}_changelist")).status_code == 200
    )


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


def test_charge_list_query_count_does_not_grow_with_rows(
    cs_client, django_assert_max_num_queries
):
    (invoice,) = _empty_invoices(1)
    _charges(invoice, 3)
    url = reverse("admin:billing_charge_changelist")
    with django_assert_max_num_queries(15):
        few = _queries(cs_client, url)
    _charges(_empty_invoices(1)[0], 27)
    with django_assert_max_num_queries(few):
        response = cs_client.get(url)
    assert len(response.context["cl"].result_list) == 30


def test_rate_card_list_query_count_does_not_grow_with_rows(
    cs_client, django_assert_max_num_queries, rates
):
    for _ in range(3):
        RateCard.objects.create(company=CompanyFactory(), currency="EUR")
    cards = reverse("admin:billing_ratecard_changelist")
    few = _queries(cs_client, cards)
    for _ in range(27):
        RateCard.objects.create(company=CompanyFactory(), currency="EUR")
    with django_assert_max_num_queries(few):
        cs_client.get(cards)


def _credit_notes(n: int) -> None:
    for invoice in _empty_invoices(n):
        invoice = invoice_finalize(invoice=invoice)
        CreditNote.objects.create(
            invoice=invoice,
            number=f"CN-TEST-{invoice.pk}",
            reason="Goodwill",
            currency="EUR",
            subtotal=Decimal("1"),
            tax=Decimal("0"),
            total=Decimal("1"),
            created_by=StaffUserFactory(),
        )


def test_credit_note_list_query_count_does_not_grow_with_rows(
    cs_client, django_assert_max_num_queries
):
    url = reverse("admin:billing_creditnote_changelist")
    _credit_notes(3)
    few = _queries(cs_client, url)
    _credit_notes(27)
    with django_assert_max_num_queries(few):
        response = cs_client.get(url)
    assert response.context["cl"].result_count == 30


def test_invoice_list_shows_company_month_number_status_and_total(cs_client, rates):
    invoice = _finalized(_world(rates, tax_rate=Decimal("0.21")))
    response = cs_client.get(INVOICES)
    html = response.content.decode()
    assert invoice.number in html
    assert invoice.company.name in html
    assert "2026-10" in html
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
    for field in Invoice._meta.concrete_fields:
        if not field.primary_key:
            assert f"field-{field.name}" in html, field.name


def test_the_charges_link_lists_exactly_the_invoice_charges(cs_client, rates):
    invoice = _finalized(_world(rates))
    _world(rates, marketing=2).invoice(OCT, at=NOW)  # another company's charges
    url = reverse("admin:billing_charge_changelist")
    response = cs_client.get(url, {"invoice": invoice.pk})
    rows = list(response.context["cl"].result_list)
    assert {c.invoice_id for c in rows} == {invoice.pk}
    assert len(rows) == 4
    assert str(invoice) in response.content.decode()  # the selected filter
    assert len(cs_client.get(url).context["cl"].result_list) == 6


def test_charge_search_by_wamid_and_filters(cs_client, rates):
    world = _world(rates, marketing=2)
    message = Message.objects.filter(company=world.company).first()
    _draft(world)
    url = reverse("admin:billing_charge_changelist")
    found = cs_client.get(url, {"q": message.wamid}).context["cl"].result_list
    assert [c.message_id for c in found] == [message.pk]
    free = cs_client.get(url, {"billable__exact": "0"}).context["cl"].result_list
    assert list(free) == []
    not_invoiced = cs_client.get(url, {"invoice": "none"}).context["cl"].result_list
    assert list(not_invoiced) == []
    charge = Charge.objects.first()
    detail = cs_client.get(reverse("admin:billing_charge_change", args=[charge.pk]))
    assert detail.status_code == 200
    assert reverse("admin:billing_invoice_change", args=[charge.invoice_id]) in (
        detail.content.decode()
    )


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


def _credit_page(client, invoice, **data):
    return _action(client, "issue_credit_note", [invoice], **data)


def test_credit_note_with_amounts_per_line(cs_client, cs_user, rates):
    # given a finalized invoice with a license line and a usage line
    invoice = _finalized(
        _world(rates, tax_rate=Decimal("0.21"), license_price=Decimal("9.99"))
    )
    usage = invoice.lines.get(kind=InvoiceLine.Kind.USAGE)
    license_line = invoice.lines.get(kind=InvoiceLine.Kind.LICENSE)
    # when the action is chosen, a page lists the non-tax lines
    page = _credit_page(cs_client, invoice)
    html = page.content.decode()
    assert page.templates[0].name == "admin/billing/invoice/credit_note.html"
    assert f'name="amount_{usage.pk}"' in html
    assert f'name="amount_{license_line.pk}"' in html
    tax = invoice.lines.get(kind=InvoiceLine.Kind.TAX)
    assert f'name="amount_{tax.pk}"' not in html
    # when amounts are entered
    done = _credit_page(
        cs_client,
        invoice,
        post="yes",
        reason="Two test sends",
        **{f"amount_{usage.pk}": "0.12", f"amount_{license_line.pk}": ""},
    )
    # then
    note = CreditNote.objects.get()
    assert (note.subtotal, note.tax, note.total) == (
        Decimal("0.12"),
        Decimal("0.03"),
        Decimal("0.15"),
    )
    assert (note.reason, note.created_by) == ("Two test sends", cs_user)
    assert _messages(done) == [
        f"{invoice.number}: credit note CN-2026-000001 issued, 0.12 EUR + tax "
        "0.03 EUR = 0.15 EUR."
    ]
    # the next page shows what is left of the line
    assert "0.13" in _credit_page(cs_client, invoice).content.decode()


def test_over_credit_shows_the_error_and_creates_nothing(cs_client, rates):
    invoice = _finalized(_world(rates))
    usage = invoice.lines.get(kind=InvoiceLine.Kind.USAGE)  # 0.25
    response = _credit_page(
        cs_client,
        invoice,
        post="yes",
        reason="Goodwill",
        **{f"amount_{usage.pk}": "0.26"},
    )
    assert response.templates[0].name == "admin/billing/invoice/credit_note.html"
    errors = response.context["form"].non_field_errors()
    assert errors == [
        # the service words it; stored amounts have 4 places
        "Marketing templates, Spain: credit must be more than 0 and at most "
        "0.2500 EUR. Nothing was issued."
    ]
    assert "0.25 EUR" in response.content.decode()  # left to credit
    assert not CreditNote.objects.exists()


def test_credit_note_needs_an_amount_and_a_reason(cs_client, rates):
    invoice = _finalized(_world(rates))
    response = _credit_page(cs_client, invoice, post="yes", reason="")
    form = response.context["form"]
    assert form.errors["reason"]
    assert "Enter an amount for at least one line." not in str(form.errors)
    response = _credit_page(cs_client, invoice, post="yes", reason="x")
    assert response.context["form"].non_field_errors() == [
        "Enter an amount for at least one line."
    ]
    assert not CreditNote.objects.exists()


def test_credit_note_is_refused_for_drafts_and_for_several_invoices(cs_client, rates):
    draft = _draft(_world(rates))
    finalized = _finalized(_world(rates))
    response = _credit_page(cs_client, draft)
    assert _messages(response) == [
        f"{draft} is draft: only finalized or paid invoices are corrected by "
        "credit notes. Nothing was issued."
    ]
    response = _action(cs_client, "issue_credit_note", [draft, finalized])
    assert _messages(response) == [
        "Select exactly one invoice to credit; nothing was issued."
    ]
    assert not CreditNote.objects.exists()


def test_credit_note_detail_links_back_to_the_invoice(cs_client, rates):
    invoice = _finalized(_world(rates))
    usage = invoice.lines.get(kind=InvoiceLine.Kind.USAGE)
    _credit_page(
        cs_client, invoice, post="yes", reason="x", **{f"amount_{usage.pk}": "0.10"}
    )
    note = CreditNote.objects.get()
    response = cs_client.get(reverse("admin:billing_creditnote_change", args=[note.pk]))
    html = response.content.decode()
    assert reverse("admin:billing_invoice_change", args=[invoice.pk]) in html
    assert "Marketing templates, Spain" in html
    detail = cs_client.get(reverse("admin:billing_invoice_change", args=[invoice.pk]))
    assert note.number in detail.content.decode()


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


# --- rate cards --------------------------------------------------------------------------


def test_adding_a_company_card_in_another_currency_is_a_form_error(cs_client):
    company = CompanyFactory(name="Globex", billing_currency="MXN")
    response = cs_client.post(
        reverse("admin:billing_ratecard_add"),
        {"company": company.pk, "currency": "EUR", "name": ""},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["currency"] == [
        "Globex is billed in MXN; its rate card must use MXN, not EUR."
    ]
    assert not RateCard.objects.exists()
    cs_client.post(
        reverse("admin:billing_ratecard_add"),
        {"company": company.pk, "currency": "mxn", "name": "Globex 2026"},
    )
    assert RateCard.objects.get().currency == "MXN"


def test_adding_a_second_price_list_in_a_currency_is_a_form_error(cs_client, rates):
    response = cs_client.post(
        reverse("admin:billing_ratecard_add"), {"currency": "EUR", "name": ""}
    )
    assert response.context["adminform"].form.errors["currency"] == [
        "The price list already has a EUR rate card; import the rates into it."
    ]


def test_rate_card_page_has_import_and_export_buttons(cs_client, rates):
    response = cs_client.get(reverse("admin:billing_ratecard_change", args=[rates.pk]))
    html = response.content.decode()
    assert reverse("admin:billing_ratecard_import", args=[rates.pk]) in html
    assert reverse("admin:billing_ratecard_export", args=[rates.pk]) in html
    assert "0.0615" in html  # the rates inline
    listing = cs_client.get(reverse("admin:billing_ratecard_changelist"))
    assert listing.context["cl"].result_list[0].rate_count == 3


def test_export_downloads_the_csv(cs_client, rates):
    response = cs_client.get(reverse("admin:billing_ratecard_export", args=[rates.pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="rates-price-list-EUR.csv"'
    )
    assert response.content.decode().splitlines()[:2] == [
        "market,category,rate,currency,effective_from",
        "Spain,authentication,0.0300,EUR,2026-01-01",
    ]


def _upload(text: str | bytes) -> SimpleUploadedFile:
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile("rates.csv", data, content_type="text/csv")


def test_import_csv_adds_the_rates(cs_client, cs_user, rates):
    url = reverse("admin:billing_ratecard_import", args=[rates.pk])
    assert cs_client.get(url).status_code == 200
    response = cs_client.post(
        url,
        {
            "file": _upload(
                "\ufeffmarket,category,rate,currency,effective_from\n"
                "Spain,marketing,0.0615,EUR,2026-01-01\n"
                "France,marketing,0.1320,EUR,2026-12-01\n"
                "France,utility,0.0275,EUR,2026-12-01\n"
            )
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse(
        "admin:billing_ratecard_change", args=[rates.pk]
    )
    assert _messages(response) == [
        "Imported 2 new rate(s) into Price list (EUR); rows already on the card "
        "were skipped."
    ]
    assert Rate.objects.filter(card=rates, created_by=cs_user).count() == 2


def test_import_csv_with_errors_lists_them_and_imports_nothing(cs_client, rates):
    url = reverse("admin:billing_ratecard_import", args=[rates.pk])
    response = cs_client.post(
        url,
        {
            "file": _upload(
                "market,category,rate,currency,effective_from\n"
                "France,marketing,0.1320,EUR,2026-12-01\n"
                "Spian,marketing,0.0615,EUR,2026-01-01\n"
                "Spain,marketing,0.0700,EUR,2026-01-01\n"
            )
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "line 3: unknown market &#x27;Spian&#x27;" in html
    assert "line 4: Spain marketing from 2026-01-01 already has rate 0.0615" in html
    assert "has 2 errors; nothing was imported." in html
    assert rates.rates.count() == 3


def test_import_refuses_a_file_that_is_not_utf8(cs_client, rates):
    url = reverse("admin:billing_ratecard_import", args=[rates.pk])
    response = cs_client.post(
        url, {"file": _upload("market,category\nEspaña".encode("latin-1"))}
    )
    assert response.context["form"].errors["file"] == [
        "The file is not UTF-8 text: save it as “CSV UTF-8” and retry."
    ]


def test_rate_history_cannot_be_edited_from_the_card(cs_client, rates):
    url = reverse("admin:billing_ratecard_change", args=[rates.pk])
    html = cs_client.get(url).content.decode()
    assert 'name="rates-0-rate"' not in html
    assert 'name="company"' not in html and 'name="currency"' not in html
    delete = reverse("admin:billing_ratecard_delete", args=[rates.pk])
    assert cs_client.post(delete, {"post": "yes"}).status_code == 403


# --- markets -----------------------------------------------------------------------------


def test_markets_are_view_only_with_their_prefixes(cs_client):
    spain = Market.objects.get(name="Spain")
    response = cs_client.get(reverse("admin:billing_market_change", args=[spain.pk]))
    assert response.status_code == 200
    assert "34" in response.content.decode()
    assert (
        cs_client.post(
            reverse("admin:billing_market_change", args=[spain.pk]), {"name": "X"}
        ).status_code
        == 403
    )
    assert cs_client.get(reverse("admin:billing_market_add")).status_code == 403


def test_market_prefixes_search_by_calling_code_and_filter_by_market(cs_client):
    url = reverse("admin:billing_marketprefix_changelist")
    found = cs_client.get(url, {"q": "+34"}).context["cl"].result_list
    assert "Spain" in {p.country for p in found}
    spain = Market.objects.get(name="Spain")
    by_market = cs_client.get(url, {"market__id__exact": spain.pk})
    assert {p.market_id for p in by_market.context["cl"].result_list} == {spain.pk}


# --- who may do what -------------------------------------------------------------------


ADMIN_URLS = [
    ("admin:billing_invoice_changelist", False),
    ("admin:billing_invoice_run_billing", False),
    ("admin:billing_charge_changelist", False),
    ("admin:billing_ratecard_changelist", False),
    ("admin:billing_ratecard_import", True),
    ("admin:billing_ratecard_export", True),
]


@pytest.mark.parametrize(("name", "needs_card"), ADMIN_URLS)
def test_a_company_user_is_sent_to_the_admin_login(client, rates, name, needs_card):
    client.force_login(CompanyAdminFactory())
    response = client.get(reverse(name, args=[rates.pk] if needs_card else []))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize(("name", "needs_card"), ADMIN_URLS)
def test_staff_without_the_customer_success_group_get_403(
    client, rates, name, needs_card
):
    client.force_login(StaffUserFactory())
    response = client.get(reverse(name, args=[rates.pk] if needs_card else []))
    assert response.status_code == 403


def test_view_only_staff_see_invoices_but_cannot_act_or_run_billing(client, rates):
    # given a staff user who may only view invoices and rate cards
    user = StaffUserFactory()
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="billing",
            codename__in=["view_invoice", "view_ratecard"],
        )
    )
    client.force_login(user)
    invoice = _draft(_world(rates))
    # then
    response = client.get(INVOICES)
    assert response.status_code == 200
    assert response.context["action_form"] is None  # no actions offered
    assert "run-billing" not in response.content.decode()
    assert client.get(reverse("admin:billing_invoice_run_billing")).status_code == 403
    assert client.post(
        INVOICES, {"action": "finalize", "_selected_action": [invoice.pk]}
    ).status_code in (200, 302)
    invoice.refresh_from_db()
    assert invoice.status == "draft"
    import_url = reverse("admin:billing_ratecard_import", args=[rates.pk])
    assert client.get(import_url).status_code == 403
    export_url = reverse("admin:billing_ratecard_export", args=[rates.pk])
    assert client.get(export_url).status_code == 200


def test_customer_success_has_exactly_the_billing_permissions(cs_user):
    from accounts.roles import CUSTOMER_SUCCESS_PERMISSIONS

    billing = {p for p in cs_user.get_all_permissions() if p.startswith("billing.")}
    assert billing == {
        p for p in CUSTOMER_SUCCESS_PERMISSIONS if p.startswith("billing.")
    }


def test_billing_runs_are_visible_to_customer_success_and_superusers(client, cs_client):
    url = reverse("admin:billing_billingrun_changelist")
    assert cs_client.get(url).status_code == 200
    client.force_login(StaffUserFactory(is_superuser=True, email="root@example.com"))
    assert client.get(url).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 200
