"""The two worked examples of shared/PRICING_RULES.md, end to end: the real
webhook endpoint and send service under time travel, ending in an invoice."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import Charge, InvoiceLine
from tests.billing_world import World, rate_card

pytestmark = pytest.mark.django_db

M, U = Decimal("0.0615"), Decimal("0.0200")
MONTH = date(2026, 10, 1)
T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def world(client):
    rate_card(
        rates={
            ("Spain", "marketing"): M,
            ("Spain", "utility"): U,
            ("Spain", "authentication"): "0.0300",
        },
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return World(client, start=T)


def _usage(invoice):
    return {
        (line.category, line.quantity, line.amount)
        for line in invoice.lines.filter(kind=InvoiceLine.Kind.USAGE)
    }


def test_example_1(world):
    h = timedelta(hours=1)
    # 1. B sends a marketing template → delivered → charged (m)
    marketing = world.send_and_deliver("marketing", T)
    # 2. B sends a utility template → delivered → charged (u): no window is open
    utility_closed = world.send_and_deliver("utility", T + 1 * h)
    # 3. C replies → free; a 24-hour window opens
    reply = world.contact_writes(T + 2 * h)
    # 4. B sends a free-form message → free
    free_form = world.send_text(T + 3 * h)
    world.deliver(free_form, T + 3 * h + timedelta(seconds=2))
    # 5. B sends a utility template → free (window open)
    utility_open = world.send_and_deliver("utility", T + 4 * h)
    # 6. C replies → free; the window is refreshed
    world.contact_writes(T + 5 * h)

    invoice = world.invoice(MONTH)

    # Total: one marketing and one utility charge = m + u
    assert invoice.total == Decimal(
        "0.08"
    )  # 0.0615 + 0.0200 = 0.0815 → lines 0.06 + 0.02
    assert _usage(invoice) == {
        ("marketing", 1, Decimal("0.06")),
        ("utility", 1, Decimal("0.02")),
    }
    charges = {c.message_id: c for c in Charge.objects.all()}
    assert charges[marketing.pk].billable and charges[marketing.pk].rate == M
    assert charges[utility_closed.pk].billable and charges[utility_closed.pk].rate == U
    assert not charges[utility_open.pk].billable
    assert charges[utility_open.pk].window_message_id == reply.pk
    assert free_form.pk not in charges and reply.pk not in charges
    assert sum(c.amount for c in charges.values()) == M + U


def test_example_2(world):
    h = timedelta(hours=1)
    # 1. C writes to B → free; a 24-hour window opens
    world.contact_writes(T)
    # 2. B answers with a utility template → free
    first_utility = world.send_and_deliver("utility", T + 1 * h)
    # 3. C writes again → free; the window is refreshed
    second_inbound = world.contact_writes(T + 2 * h)
    # 4. 24 hours pass with no message from C → the window closes
    closed = T + 2 * h + timedelta(hours=24)
    # 5. B sends a utility template → charged (u)
    late_utility = world.send_and_deliver("utility", closed + timedelta(minutes=1))
    # 6. C answers → free; a new 24-hour window opens
    world.contact_writes(closed + 2 * h)
    # 7. B sends a free-form message → free
    world.deliver(
        world.send_text(closed + 3 * h), closed + 3 * h + timedelta(seconds=2)
    )

    invoice = world.invoice(MONTH)

    # Total: one utility charge = u
    assert invoice.total == Decimal("0.02")
    assert _usage(invoice) == {("utility", 1, Decimal("0.02"))}
    charges = {c.message_id: c for c in Charge.objects.all()}
    assert charges[late_utility.pk].billable
    assert not charges[first_utility.pk].billable
    assert charges[first_utility.pk].window_opened_at == T
    assert set(charges) == {first_utility.pk, late_utility.pk}
    assert second_inbound.pk not in charges
