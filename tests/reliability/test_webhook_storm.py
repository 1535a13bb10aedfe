"""A webhook storm: over 100,000 inbound messages and statuses for a month of a
realistic population, replayed through the real endpoint twice — world A in time
order in batches of 100, world B (same shape, own ids) shuffled, with 20 %
duplicates, in random batches of 1 to 1000 — must leave identical messages,
windows, charges and invoices (facts, not arrival order, decide; C1, B1, D2).

Both replays run at the same time, each from its own thread and database
session (two provider streams hitting the endpoint at once; and the test fits in
its time on two cores). Each POST carries the updates of one business number, as
the provider sends them."""

import random
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test import Client

from billing.rules import Reason
from billing.services import invoice_compute
from messaging import rules as messaging_rules
from messaging.models import (
    Conversation,
    Message,
    MessageStatusEvent,
    WebhookDelivery,
)
from tests import whatsapp
from tests.reliability.population import (
    Shape,
    batches_by_number,
    charges_by_key,
    invoice_summary,
    messages_by_key,
    outbound_create,
    payload,
    rates_seed,
    traffic,
    world_build,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MONTH = date(2026, 10, 1)  # a Madrid company crosses the end of summer time in it
SHAPE = Shape(companies=5, numbers=2, contacts=50)  # 500 conversations per world
OUTBOUND_PER_CONVERSATION = 72
INBOUND_PER_CONVERSATION = 28
MAX_ITEMS_PER_POST = 1000  # what the provider puts in one POST at most


def _replay(world, batches, results: dict) -> None:
    """POST every batch through the endpoint (Django's test client: the real URL,
    middleware, view and processing); runs in a thread of its own."""
    try:
        client = Client()
        posts = duplicate_posts = items = 0
        started = time.perf_counter()
        for batch in batches:
            response = whatsapp.post(client, payload(world, batch))
            assert response.status_code == 200, response.content[:500]
            posts += 1
            items += len(batch)
            duplicate_posts += response.json()["duplicate"]
        elapsed = time.perf_counter() - started
        results.update(
            posts=posts,
            items=items,
            duplicate_posts=duplicate_posts,
            seconds=elapsed,
            rate=items / elapsed,
        )
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        results["error"] = exc
    finally:
        connection.close()


ANALYZED = (
    "messaging_message",
    "messaging_messagestatusevent",
    "messaging_webhookdelivery",
    "messaging_conversation",
    "messaging_contact",
)


def _analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(ANALYZED)}")


class Autovacuum(threading.Thread):
    """Stands in for autovacuum's ANALYZE, which a deployment runs as tables grow
    (the PostgreSQL of this test machine runs with autovacuum off). Without
    statistics the planner seq-scans the status events for every POST and the
    replay slows down quadratically — a property of a fresh table, not of the code
    under test."""

    def __init__(self, every: float = 5.0):
        super().__init__(daemon=True)
        self.every, self.runs = every, 0
        self.done = threading.Event()

    def run(self):
        try:
            while not self.done.wait(self.every):
                _analyze()
                self.runs += 1
        finally:
            connection.close()


def _expected_states(events) -> dict[str, messaging_rules.DeliveryState]:
    """C1 from the generated facts, independently of the database path."""
    by_key: dict[str, list] = {}
    for e in events:
        if not e.is_inbound:
            by_key.setdefault(e.key, []).append((e.status, e.at))
    return {k: messaging_rules.delivery_state(v) for k, v in by_key.items()}


def test_a_storm_of_100k_events_in_any_order_with_duplicates_bills_the_same():
    rates_seed(effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    outbound, events = traffic(
        SHAPE,
        month=MONTH,
        outbound_per_conversation=OUTBOUND_PER_CONVERSATION,
        inbound_per_conversation=INBOUND_PER_CONVERSATION,
        seed=20261001,
    )
    inbound_events = sum(e.is_inbound for e in events)
    assert len(events) >= 100_000
    started = time.perf_counter()
    a = world_build(SHAPE, tag="A", month=MONTH, phone_base=710_000_000)
    b = world_build(SHAPE, tag="B", month=MONTH, phone_base=720_000_000)
    outbound_create(a, outbound)
    outbound_create(b, outbound)
    _analyze()
    setup_s = time.perf_counter() - started

    # World A: in provider time order, 100 updates per POST.
    ordered = sorted(events, key=lambda e: (e.at, e.key, e.status))
    batches_a = batches_by_number(ordered, lambda: 100)
    # World B: shuffled, 20 % of the updates sent twice, 1..1000 updates per POST.
    rng = random.Random(7)
    duplicates = rng.sample(events, len(events) // 5)
    storm = events + duplicates
    rng.shuffle(storm)
    batches_b = batches_by_number(storm, lambda: rng.randint(1, MAX_ITEMS_PER_POST))

    stats_a, stats_b = {}, {}
    threads = [
        threading.Thread(target=_replay, args=(a, batches_a, stats_a)),
        threading.Thread(target=_replay, args=(b, batches_b, stats_b)),
    ]
    autovacuum = Autovacuum()
    autovacuum.start()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    replay_s = time.perf_counter() - started
    autovacuum.done.set()
    autovacuum.join()
    for stats in (stats_a, stats_b):
        if "error" in stats:
            raise stats["error"]

    print(
        f"\n[storm] population per world: {SHAPE.companies} companies x "
        f"{SHAPE.numbers} numbers x {SHAPE.contacts} contacts, "
        f"{len(outbound)} outbound templates; setup of both worlds {setup_s:.1f} s"
        f"\n[storm] distinct events: {len(events)} ({inbound_events} inbound, "
        f"{len(events) - inbound_events} statuses)"
        f"\n[storm] world A (time order, 100/POST): {stats_a['items']} events in "
        f"{stats_a['posts']} POSTs, {stats_a['seconds']:.1f} s, "
        f"{stats_a['rate']:.0f} events/s"
        f"\n[storm] world B (shuffled, 1..1000/POST): {stats_b['items']} events "
        f"({len(duplicates)} duplicates injected) in {stats_b['posts']} POSTs "
        f"({stats_b['duplicate_posts']} whole-body duplicates), "
        f"{stats_b['seconds']:.1f} s, {stats_b['rate']:.0f} events/s"
        f"\n[storm] both replays at once: {replay_s:.1f} s wall, "
        f"{(stats_a['items'] + stats_b['items']) / replay_s:.0f} events/s together "
        f"(ANALYZE every {autovacuum.every:.0f} s: {autovacuum.runs} runs)"
    )

    started = time.perf_counter()
    invoices_a = [invoice_compute(company=c, month=MONTH) for c in a.companies]
    invoices_b = [invoice_compute(company=c, month=MONTH) for c in b.companies]
    invoice_s = time.perf_counter() - started

    print(f"[storm] 10 invoices computed in {invoice_s:.1f} s")

    # Every POST was stored once and processed without error.
    assert set(WebhookDelivery.objects.values_list("status", flat=True).distinct()) == {
        WebhookDelivery.Status.PROCESSED
    }
    assert (
        WebhookDelivery.objects.count()
        == stats_a["posts"] + stats_b["posts"] - stats_b["duplicate_posts"]
    )

    # The facts: each stored once per world, whatever the duplicates.
    statuses = len(events) - inbound_events
    for world in (a, b):
        assert (
            MessageStatusEvent.objects.filter(
                message__company__in=world.companies
            ).count()
            == statuses
        )
        assert (
            Message.objects.filter(company__in=world.companies, direction="in").count()
            == inbound_events
        )

    # Derived message state: equal between A and B, and equal to C1 on the facts.
    messages_a, messages_b = messages_by_key(a), messages_by_key(b)
    assert messages_a == messages_b
    expected = _expected_states(events)
    for o in outbound:
        state = expected.get(o.key)
        row = messages_a[o.key]
        if state is None:
            assert row[1] == "accepted"
            continue
        assert row[1:2] + row[3:7] == (
            state.status,
            state.sent_at,
            state.delivered_at,
            state.read_at,
            state.failed_at,
        ), o.key

    # Windows (B1): the latest inbound instant per conversation, equal in both.
    def windows(world):
        ids = {c.pk: key for key, c in world.conversations.items()}
        return {
            ids[pk]: at
            for pk, at in Conversation.objects.filter(
                company__in=world.companies
            ).values_list("pk", "last_inbound_at")
        }

    latest: dict = {}
    for e in events:
        if e.is_inbound:
            latest[e.conv] = max(latest.get(e.conv, e.at), e.at)
    assert windows(a) == windows(b) == latest

    # Charges: one per delivered template, the same in both worlds.
    charges_a, charges_b = charges_by_key(a), charges_by_key(b)
    assert charges_a == charges_b
    delivered = {
        k for k, row in messages_a.items() if row[0] == "out" and row[4] is not None
    }
    assert set(charges_a) == delivered
    reasons = Counter(row[4] for row in charges_a.values())
    assert set(reasons) == {
        Reason.MARKETING,
        Reason.AUTHENTICATION,
        Reason.UTILITY_NO_WINDOW,
        Reason.UTILITY_IN_WINDOW,
    }

    # Invoices: line for line and total for total.
    for invoice_a, invoice_b in zip(invoices_a, invoices_b, strict=True):
        assert invoice_summary(invoice_a) == invoice_summary(invoice_b)
        assert invoice_a.total == sum(line.amount for line in invoice_a.lines.all())
    totals = [str(i.total) for i in invoices_a]
    print(
        f"[storm] charges per world: {len(charges_a)} "
        f"({dict(sorted(reasons.items()))}); invoice totals A = B = {totals}"
    )
