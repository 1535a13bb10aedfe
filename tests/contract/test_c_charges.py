"""Contract tests for rules C1-C7 of shared/PRICING_RULES.md, end to end."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import Charge, Invoice, InvoiceLine
from billing.rules import Reason
from tests.billing_world import World, rate_card

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
H = timedelta(hours=1)
RATES = {
    ("Spain", "marketing"): "0.0615",
    ("Spain", "utility"): "0.0200",
    ("Spain", "authentication"): "0.0300",
    ("Rest of Latin America", "marketing"): "0.0740",
    ("North America", "marketing"): "0.0250",
    ("Other", "marketing"): "0.0600",
}


@pytest.fixture
def rates():
    return rate_card(rates=RATES, effective_from=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
def world(client, rates):
    return World(client, start=T)


def charge_of(message):
    return Charge.objects.filter(message=message).first()


def test_c1_charged_on_delivery_only_never_before(world):
    sent_only = world.send_template("marketing", T)
    world.status(sent_only, "sent", T + timedelta(seconds=1))
    failed = world.send_template("marketing", T + H)
    world.status(
        failed, "failed", T + H, errors=[{"code": 131026, "title": "Undeliverable"}]
    )
    world.invoice(OCT)
    assert Charge.objects.count() == 0


def test_c1_charged_on_delivery_only_read_implies_delivered(world):
    message = world.send_template("marketing", T)
    world.status(message, "read", T + 10 * H)
    world.invoice(OCT)
    assert charge_of(message).delivered_at == T + 10 * H


def test_c1_charged_on_delivery_only_at_most_once_whatever_the_statuses(world):
    message = world.send_template("marketing", T)
    for status, at in [
        ("read", T + 3 * H),
        ("delivered", T + H),
        ("delivered", T + H),
        ("sent", T),
        ("failed", T + 4 * H),
        ("read", T + 3 * H),
    ]:
        world.status(message, status, at)
    invoice = world.invoice(OCT)
    world.invoice(OCT)
    assert Charge.objects.filter(message=message).count() == 1
    line = invoice.lines.get(kind=InvoiceLine.Kind.USAGE)
    assert (line.quantity, line.amount) == (1, Decimal("0.06"))


@pytest.mark.parametrize("window_open", [True, False])
def test_c2_marketing_templates_are_charged_window_open_or_not(world, window_open):
    if window_open:
        world.contact_writes(T - H)
    message = world.send_and_deliver("marketing", T)
    world.invoice(OCT)
    charge = charge_of(message)
    assert (charge.billable, charge.reason, charge.amount) == (
        True,
        Reason.MARKETING,
        Decimal("0.0615"),
    )


@pytest.mark.parametrize(
    "delivered_after_inbound,billable",
    [
        (timedelta(hours=1), False),
        (timedelta(hours=24) - timedelta(seconds=1), False),
        (timedelta(hours=24), True),
        (timedelta(hours=24, seconds=1), True),
    ],
)
def test_c3_utility_templates_charged_only_when_delivered_with_the_window_closed(
    world, delivered_after_inbound, billable
):
    inbound = world.contact_writes(T)
    # sent inside the window; what counts is the delivery instant
    message = world.send_template("utility", T + timedelta(minutes=30))
    world.deliver(message, T + delivered_after_inbound)
    world.invoice(OCT)
    charge = charge_of(message)
    assert charge.billable is billable
    if billable:
        assert (charge.reason, charge.amount) == (
            Reason.UTILITY_NO_WINDOW,
            Decimal("0.0200"),
        )
    else:
        assert (charge.reason, charge.amount) == (
            Reason.UTILITY_IN_WINDOW,
            Decimal("0"),
        )
        assert (charge.window_message, charge.window_opened_at) == (inbound, T)


def test_c3_utility_late_inbound_reclassifies_until_the_month_is_finalized(world):
    message = world.send_and_deliver("utility", T + 2 * H)
    invoice = world.invoice(OCT, at=T + 3 * H)
    assert charge_of(message).billable
    # the contact's message from before the delivery arrives late
    world.contact_writes(T, arrives=T + 5 * H)
    invoice = world.invoice(OCT)
    assert not charge_of(message).billable
    assert invoice.total == Decimal("0.00")
    # once finalized, nothing changes any more (C7 / D2)
    finalized = world.finalize(invoice)
    message2 = world.send_and_deliver("utility", T + 30 * H)
    world.contact_writes(T + 29 * H, arrives=datetime(2026, 11, 10, tzinfo=UTC))
    assert Invoice.objects.get(pk=finalized.pk).total == finalized.total
    assert charge_of(message).invoice_id == finalized.pk
    # the late October delivery lands on November, classified with the late inbound
    world.invoice(NOV)
    late = charge_of(message2)
    assert (late.invoice.month, late.billable) == (NOV, False)


def test_c4_authentication_templates_are_charged_always(world):
    world.contact_writes(T - H)
    in_window = world.send_and_deliver("authentication", T)
    outside = world.send_and_deliver("authentication", T + 48 * H)
    world.invoice(OCT)
    for message in (in_window, outside):
        assert (charge_of(message).billable, charge_of(message).reason) == (
            True,
            Reason.AUTHENTICATION,
        )


def test_c5_inbound_and_free_form_messages_are_never_charged(world):
    inbound = world.contact_writes(T)
    text = world.send_text(T + H)
    world.deliver(text, T + H)
    # free-form delivered after the window closed (sent while open) is still free
    late_text = world.send_text(T + 23 * H)
    world.deliver(late_text, T + 30 * H)
    invoice = world.invoice(OCT)
    assert Charge.objects.count() == 0
    assert not invoice.lines.filter(kind=InvoiceLine.Kind.USAGE).exists()
    assert inbound.direction == "in"


@pytest.mark.parametrize(
    "wa_id,market,rate",
    [
        ("34600111222", "Spain", "0.0615"),
        ("18095551234", "Rest of Latin America", "0.0740"),  # +1 809 beats +1
        ("16505551234", "North America", "0.0250"),
        ("99912345678", "Other", "0.0600"),  # no prefix matches
    ],
)
def test_c6_rate_by_category_and_the_recipients_market(
    client, rates, wa_id, market, rate
):
    world = World(client, start=T, wa_id=wa_id)
    message = world.send_and_deliver("marketing", T)
    world.invoice(OCT)
    charge = charge_of(message)
    assert (charge.market.name, charge.rate) == (market, Decimal(rate))


def test_c6_rate_in_force_at_the_delivery_instant_and_the_company_card_first(
    client, rates
):
    world = World(client, start=T)
    change = datetime(2026, 10, 15, tzinfo=UTC)
    rate_card(
        company=world.company,
        rates={("Spain", "marketing"): "0.0500"},
        effective_from=change,
    )
    before = world.send_and_deliver("marketing", change - H)
    after = world.send_and_deliver("marketing", change + H)
    invoice = world.invoice(OCT)
    assert (charge_of(before).rate, charge_of(after).rate) == (
        Decimal("0.0615"),
        Decimal("0.0500"),
    )
    assert set(
        invoice.lines.filter(kind="usage").values_list("unit_price", "quantity")
    ) == {
        (Decimal("0.0615"), 1),
        (Decimal("0.0500"), 1),
    }


def test_c7_a_charge_belongs_to_the_delivery_month_in_the_company_time_zone(
    client, rates
):
    world = World(client, start=T, tz="Europe/Madrid")
    # 2026-10-31 23:30 UTC is already 1 November 00:30 in Madrid (CET, +1)
    message = world.send_template(
        "marketing", datetime(2026, 10, 31, 23, 29, tzinfo=UTC)
    )
    world.deliver(message, datetime(2026, 10, 31, 23, 30, tzinfo=UTC))
    october = world.invoice(OCT)
    november = world.invoice(NOV)
    assert not october.lines.filter(kind="usage").exists()
    assert november.lines.get(kind="usage").quantity == 1
    assert charge_of(message).invoice == november


def test_c7_a_late_charge_of_a_finalized_month_is_carried_over_once(world):
    message = world.send_template("marketing", datetime(2026, 10, 31, 20, tzinfo=UTC))
    october = world.finalize(world.invoice(OCT))
    # the delivery status of 31 October arrives on 5 November
    world.deliver(
        message,
        datetime(2026, 10, 31, 20, 0, 5, tzinfo=UTC),
        arrives=datetime(2026, 11, 5, tzinfo=UTC),
    )
    assert Invoice.objects.get(pk=october.pk).total == october.total == Decimal("0")
    november = world.invoice(NOV)
    line = november.lines.get(kind=InvoiceLine.Kind.CARRIED_OVER)
    assert (line.quantity, line.amount, line.original_month) == (
        1,
        Decimal("0.06"),
        OCT,
    )
    assert "October 2026" in line.description
    # recomputing or billing December never bills it again
    world.invoice(NOV)
    december = world.invoice(date(2026, 12, 1))
    assert not december.lines.filter(kind=InvoiceLine.Kind.CARRIED_OVER).exists()
    assert Charge.objects.get(message=message).invoice == november


def test_c7_a_month_without_its_invoice_yet_is_not_carried_into_the_next(world):
    # delivered in October; October's invoice not computed yet
    message = world.send_and_deliver("marketing", datetime(2026, 10, 30, tzinfo=UTC))
    november = world.invoice(NOV, at=datetime(2026, 12, 1, 1, tzinfo=UTC))
    assert not november.lines.filter(kind=InvoiceLine.Kind.CARRIED_OVER).exists()
    assert Charge.objects.get(message=message).invoice is None
    # October's own invoice bills it
    october = world.invoice(OCT)
    assert Charge.objects.get(message=message).invoice == october
    assert october.lines.get(kind=InvoiceLine.Kind.USAGE).quantity == 1
