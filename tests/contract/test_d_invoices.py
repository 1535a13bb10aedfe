"""Contract tests for rules D1-D3 of shared/PRICING_RULES.md (D4 is in the portal)."""

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from billing.exceptions import InvalidCredit, InvalidTransition
from billing.models import Charge, CreditNote, Invoice, InvoiceLine
from billing.services import (
    credit_note_issue,
    invoice_compute,
    invoice_finalize,
    invoice_mark_paid,
    invoice_void,
)
from billing.tasks import billing_month_run_task
from licensing.services import license_count_set, license_price_set
from tests.billing_world import World, rate_card
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)


@pytest.fixture
def rates():
    return rate_card(
        rates={
            ("Spain", "marketing"): "0.0615",
            ("Spain", "utility"): "0.0333",
            ("Spain", "authentication"): "0.0300",
        },
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )


@pytest.fixture
def world(client, rates):
    return World(
        client, start=T, tax_rate=Decimal("0.21"), license_price=Decimal("9.99")
    )


def test_d1_one_invoice_per_company_and_month_with_license_usage_and_tax_lines(world):
    for i in range(3):
        world.send_and_deliver("marketing", T + timedelta(hours=i))
    for i in range(7):
        world.send_and_deliver("utility", T + timedelta(days=2, hours=i))
    invoice = world.invoice(OCT)
    world.invoice(OCT)
    assert Invoice.objects.filter(company=world.company, month=OCT).count() == 1
    lines = {line.kind + ":" + line.category: line for line in invoice.lines.all()}
    # license: 1 license all month = 9.99; usage lines each rounded half-up
    assert lines["license:"].amount == Decimal("9.99")
    assert (lines["usage:marketing"].quantity, lines["usage:marketing"].amount) == (
        3,
        Decimal("0.18"),
    )
    assert (lines["usage:utility"].quantity, lines["usage:utility"].amount) == (
        7,
        Decimal("0.23"),
    )
    # tax on the rounded subtotal, rounded; the total is the sum of the rounded lines
    assert invoice.subtotal == Decimal("10.40")
    assert lines["tax:"].amount == Decimal("2.18")  # 10.40 × 0.21 = 2.184
    assert (
        invoice.total
        == sum(line.amount for line in invoice.lines.all())
        == Decimal("12.58")
    )


def test_d1_rounding_is_half_up_to_the_currencys_minor_unit(client):
    rate_card(
        currency="JPY",
        rates={("Spain", "marketing"): "2.5000"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    company = CompanyFactory(billing_currency="JPY")
    world = World(client, start=T, company=company)
    world.send_and_deliver("marketing", T)
    invoice = world.invoice(OCT)
    assert invoice.lines.get(kind="usage").amount == Decimal("3")  # 2.5 → 3 (half-up)


def test_d2_lifecycle_a_draft_recomputes_to_the_same_result(world):
    world.send_and_deliver("marketing", T)
    first = world.invoice(OCT)
    snapshot = list(
        first.lines.values_list("kind", "description", "quantity", "amount")
    )
    again = world.invoice(OCT)
    assert (
        list(again.lines.values_list("kind", "description", "quantity", "amount"))
        == snapshot
    )
    assert (again.pk, again.total, again.status) == (first.pk, first.total, "draft")
    assert again.number is None


def test_d2_lifecycle_finalizing_numbers_gaplessly_and_freezes_forever(client, rates):
    worlds = [World(client, start=T, wa_id=f"3460011122{i}") for i in range(3)]
    for w in worlds:
        w.send_and_deliver("marketing", T)
    invoices = [w.finalize(w.invoice(OCT)) for w in worlds]
    assert [i.number for i in invoices] == [
        "INV-2026-000001",
        "INV-2026-000002",
        "INV-2026-000003",
    ]
    frozen = invoices[0]
    lines = list(frozen.lines.values_list("id", "amount"))
    # new facts for the month change nothing on the finalized invoice
    late = worlds[0].send_and_deliver("marketing", T + timedelta(days=1))
    assert worlds[0].invoice(OCT).pk == frozen.pk
    frozen.refresh_from_db()
    assert list(frozen.lines.values_list("id", "amount")) == lines
    # Waits for November: at most an unbilled charge of the month so far.
    assert Charge.objects.filter(message=late).exclude(invoice=None).first() is None
    with pytest.raises(InvalidTransition):
        worlds[0].finalize(frozen)


def test_d2_lifecycle_a_month_not_yet_ended_cannot_be_finalized(world):
    invoice = world.invoice(OCT, at=datetime(2026, 10, 20, tzinfo=UTC))
    with (
        time_machine.travel(datetime(2026, 10, 25, tzinfo=UTC), tick=False),
        pytest.raises(InvalidTransition, match="not ended"),
    ):
        invoice_finalize(invoice=invoice)


def test_d2_lifecycle_paid_and_void_keep_the_number(world):
    world.send_and_deliver("marketing", T)
    invoice = world.finalize(world.invoice(OCT))
    paid = invoice_mark_paid(invoice=invoice)
    assert (paid.status, paid.number) == ("paid", invoice.number)
    with pytest.raises(InvalidTransition):
        invoice_void(invoice=paid, reason="x")
    other = World(world.client, start=T, wa_id="34699999999")
    other.send_and_deliver("marketing", T)
    second = other.finalize(other.invoice(OCT))
    voided = invoice_void(invoice=second, reason="Issued to the wrong entity")
    assert (voided.status, voided.number) == ("void", second.number)
    with pytest.raises(InvalidTransition):
        invoice_void(invoice=voided, reason="again")


def test_d2_lifecycle_corrections_are_credit_notes_referencing_lines(world):
    for i in range(4):
        world.send_and_deliver("marketing", T + timedelta(hours=i))
    invoice = world.finalize(world.invoice(OCT))
    usage = invoice.lines.get(kind=InvoiceLine.Kind.USAGE)
    total_before = invoice.total
    note = credit_note_issue(
        invoice=invoice,
        amounts={usage.pk: Decimal("0.12")},
        reason="Two test sends",
        actor=None,
    )
    assert note.number == "CN-2026-000001"
    assert (note.subtotal, note.tax, note.total) == (
        Decimal("0.12"),
        Decimal("0.03"),
        Decimal("0.15"),
    )
    assert note.lines.get().invoice_line == usage
    invoice.refresh_from_db()
    assert invoice.total == total_before  # the invoice itself never changes
    # never more than what is left of the line
    with pytest.raises(InvalidCredit):
        credit_note_issue(
            invoice=invoice, amounts={usage.pk: Decimal("0.14")}, reason="x", actor=None
        )
    with pytest.raises(InvalidCredit):
        credit_note_issue(
            invoice=invoice, amounts={usage.pk: Decimal("-1")}, reason="x", actor=None
        )
    draft = World(world.client, start=T, wa_id="34699999998").invoice(OCT)
    with pytest.raises(InvalidCredit):
        credit_note_issue(invoice=draft, amounts={}, reason="x", actor=None)
    assert CreditNote.objects.count() == 1


def _companies(n):
    companies = []
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        for _ in range(n):
            company = CompanyFactory()
            license_price_set(
                company=company, currency="EUR", monthly_amount="10", actor=None
            )
            license_count_set(company=company, quantity=2, actor=None)
            companies.append(company)
    return companies


def test_d3_billing_runs_a_scheduled_run_computes_every_company_once():
    companies = _companies(3)
    with time_machine.travel(datetime(2026, 11, 1, 2, tzinfo=UTC), tick=False):
        billing_month_run_task.delay()
        billing_month_run_task.delay()
    invoices = Invoice.objects.filter(month=OCT)
    assert invoices.count() == 3
    assert {i.company_id for i in invoices} == {c.pk for c in companies}
    assert {i.total for i in invoices} == {Decimal("20.00")}
    assert InvoiceLine.objects.filter(invoice__month=OCT).count() == 3


def test_d3_billing_runs_wait_for_the_month_to_end_in_the_company_time_zone():
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        tokyo = CompanyFactory(billing_timezone="Asia/Tokyo")
        honolulu = CompanyFactory(billing_timezone="Pacific/Honolulu")
    # 1 November 02:00 UTC: 11:00 in Tokyo, still 31 October 16:00 in Honolulu
    with time_machine.travel(datetime(2026, 11, 1, 2, tzinfo=UTC), tick=False):
        billing_month_run_task.delay()
    assert Invoice.objects.filter(company=tokyo, month=OCT).exists()
    assert not Invoice.objects.filter(company=honolulu, month=OCT).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_d3_billing_runs_for_one_company_twice_at_the_same_time_make_one_invoice():
    (company,) = _companies(1)
    errors = []
    barrier = threading.Barrier(4)

    def run():
        try:
            barrier.wait()
            with time_machine.travel(datetime(2026, 11, 1, 2, tzinfo=UTC), tick=False):
                invoice_compute(company=company, month=OCT)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Invoice.objects.filter(company=company, month=OCT).count() == 1
    assert InvoiceLine.objects.filter(invoice__company=company).count() == 1
