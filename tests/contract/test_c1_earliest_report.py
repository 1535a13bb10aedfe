"""C1: the delivery instant is the earliest provider timestamp among the
``delivered`` reports (else among the ``read`` reports), whatever order the
reports arrive in, and even when one status is reported more than once with
different timestamps. Found from outside: the first report to arrive used to win."""

from datetime import UTC, date, datetime, timedelta

import pytest

from billing.models import Charge, InvoiceLine
from billing.rules import Reason
from messaging.models import Message
from tests.billing_world import World, rate_card

pytestmark = pytest.mark.django_db

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
SENT = datetime(2026, 10, 31, 23, 59, 0, tzinfo=UTC)
EARLY = datetime(2026, 10, 31, 23, 59, 50, tzinfo=UTC)
LATE = datetime(2026, 11, 1, 0, 0, 10, tzinfo=UTC)
ARRIVES = datetime(2026, 11, 1, 0, 5, tzinfo=UTC)
ORDERS = {"later_first": [LATE, EARLY], "earlier_first": [EARLY, LATE]}


@pytest.fixture
def world(client):
    rate_card(
        rates={("Spain", "marketing"): "0.0615", ("Spain", "utility"): "0.0200"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return World(client, start=datetime(2026, 10, 1, tzinfo=UTC))


def usage_quantity(invoice) -> int:
    return sum(
        line.quantity for line in invoice.lines.filter(kind=InvoiceLine.Kind.USAGE)
    )


@pytest.mark.parametrize("order", sorted(ORDERS))
@pytest.mark.parametrize("status", ["delivered", "read"])
def test_c1_earliest_report_is_the_delivery_instant_whatever_the_arrival_order(
    world, order, status
):
    # given: a marketing template sent a minute before the month ends, reported
    # twice with the same status at instants on both sides of the month edge
    message = world.send_template("marketing", SENT)
    for at in ORDERS[order]:
        world.status(message, status, at, arrives=ARRIVES)
    # when
    october, november = world.invoice(OCT), world.invoice(NOV)
    # then: delivered (and billed) in October, once
    message.refresh_from_db()
    assert message.delivered_at == EARLY
    assert Charge.objects.get(message=message).delivered_at == EARLY
    assert (usage_quantity(october), usage_quantity(november)) == (1, 0)


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_c1_earliest_report_of_a_utility_template_inside_the_window_is_free(
    world, order
):
    # given: the contact's window is open until 23:59:55 on October 31; the first
    # delivery report (23:59:50) is inside it, the repeated one (00:00:10) outside
    world.contact_writes(EARLY - timedelta(hours=24) + timedelta(seconds=5))
    message = world.send_template("utility", SENT)
    for at in ORDERS[order]:
        world.status(message, "delivered", at, arrives=ARRIVES)
    # when
    world.invoice(OCT)
    # then
    charge = Charge.objects.get(message=message)
    assert (charge.delivered_at, charge.billable, charge.reason) == (
        EARLY,
        False,
        Reason.UTILITY_IN_WINDOW,
    )


def test_c1_a_later_delivered_report_never_moves_the_instant_forward(world):
    message = world.send_template("marketing", SENT)
    world.status(message, "delivered", EARLY, arrives=ARRIVES)
    world.status(message, "delivered", LATE, arrives=ARRIVES)
    world.status(message, "delivered", EARLY, arrives=ARRIVES)  # an exact repeat
    message.refresh_from_db()
    assert message.delivered_at == EARLY
    assert message.status_events.filter(status="delivered").count() == 2
    assert Message.objects.get(pk=message.pk).status == "delivered"
