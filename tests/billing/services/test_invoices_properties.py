"""Property tests: the invoice depends only on the facts, not on their order,
duplicates or how often it is computed."""

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Charge
from messaging.models import Message
from tests import whatsapp
from tests.billing_world import World, rate_card

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)
_wa = itertools.count(100)

# A small month: (kind, offset in minutes). Templates get status events later.
SCENARIO = [
    ("in", 0),
    ("utility", 30),
    ("marketing", 60),
    ("utility", 60 * 23),
    ("utility", 60 * 25),
    ("in", 60 * 26),
    ("authentication", 60 * 27),
    ("utility", 60 * 40),
    ("text", 60 * 27 + 5),
]
STATUS_OFFSETS = {"sent": 1, "delivered": 3, "read": 90}


@pytest.fixture(autouse=True)
def _no_sandbox_statuses(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False


def _build(client):
    """Send every outbound message of the scenario (accepted, no status yet)."""
    world = World(client, start=T, wa_id=f"3460{next(_wa):07d}")
    sent = []
    for kind, minutes in SCENARIO:
        at = T + timedelta(minutes=minutes)
        if kind == "in":
            continue
        if kind == "text":
            world.contact_writes(at - timedelta(minutes=1))
            sent.append(world.send_text(at))
        else:
            sent.append(world.send_template(kind, at))
    return world, sent


def _events(world, sent):
    """Every inbound message and status event of the scenario as webhook items."""
    items = []
    for n, (kind, minutes) in enumerate(SCENARIO):
        if kind == "in":
            items.append(
                ("in", f"wamid.P{world.wa_id}.{n}", T + timedelta(minutes=minutes))
            )
    for message in sent:
        for status, seconds in STATUS_OFFSETS.items():
            items.append(
                (
                    status,
                    message.wamid,
                    message.provider_timestamp + timedelta(seconds=seconds),
                )
            )
    return items


def _post(world, batch):
    statuses = []
    for kind, wamid, at in batch:
        if kind == "in":
            payload = whatsapp.inbound_payload(
                phone_number_id=world.number.phone_number_id,
                wa_id=world.wa_id,
                wamid=wamid,
                at=at,
            )
            whatsapp.post(world.client, payload)
        else:
            statuses.append(
                whatsapp.status_item(
                    wamid=wamid, status=kind, at=at, recipient=world.wa_id
                )
            )
    if statuses:
        whatsapp.post(
            world.client,
            whatsapp.status_payload(
                phone_number_id=world.number.phone_number_id, items=statuses
            ),
        )


def _lines(invoice):
    return sorted(
        (line.kind, line.category, line.quantity, line.unit_price, line.amount)
        for line in invoice.lines.all()
    )


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    order=st.randoms(use_true_random=False),
    batch=st.integers(1, 7),
    duplicate=st.floats(0, 0.5),
)
def test_any_order_of_events_with_duplicates_gives_the_same_invoice(
    client, order, batch, duplicate
):
    rate_card(
        rates={
            ("Spain", "marketing"): "0.0615",
            ("Spain", "utility"): "0.0200",
            ("Spain", "authentication"): "0.0300",
        },
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    # reference: facts in time order, one at a time
    ref_world, ref_sent = _build(client)
    for event in sorted(_events(ref_world, ref_sent), key=lambda e: e[2]):
        _post(ref_world, [event])
    reference = ref_world.invoice(OCT)
    # marketing, authentication and the utility delivered at 25 h (window closed)
    assert [(k, c, q) for k, c, q, _, _ in _lines(reference)] == [
        ("license", "", 31),
        ("usage", "authentication", 1),
        ("usage", "marketing", 1),
        ("usage", "utility", 1),
    ]
    # the same facts shuffled, some duplicated, in random batch sizes
    world, sent = _build(client)
    events = _events(world, sent)
    events += [e for e in events if order.random() < duplicate]
    order.shuffle(events)
    for i in range(0, len(events), batch):
        _post(world, events[i : i + batch])
    invoice = world.invoice(OCT)
    assert _lines(invoice) == _lines(reference)
    assert invoice.total == reference.total
    assert invoice.total == sum(line.amount for line in invoice.lines.all())
    # recomputing gives the same again
    assert _lines(world.invoice(OCT)) == _lines(invoice)
    assert (
        Charge.objects.filter(invoice=invoice).count()
        == Message.objects.filter(
            company=world.company, direction="out", template__isnull=False
        ).count()
    )
