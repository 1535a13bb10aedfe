"""The charge query's plan is safe whatever the statistics say (PostgreSQL).

On an analysed, empty ``billing_charge`` the "not yet charged" test used to be
planned as a nested loop over a sequential scan of the very table the INSERT
fills: each delivered message re-read every charge written so far (quadratic; a
first billing run of one company with ~1 M templates did not finish in 18
minutes). These tests read the planner's own plan (EXPLAIN, JSON) of the INSERT.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from billing.models import Charge
from billing.services.charges_sql import (
    CHARGE_COLUMNS,
    _charge_select,
    _quote,
    charge_planner,
)
from tests.billing_world import World, rate_card

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL's planner"
    ),
]

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_sandbox_statuses(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False


@pytest.fixture(scope="module", autouse=True)
def _forget_the_statistics(django_db_blocker):
    """ANALYZE writes a table's row count outside the test's transaction: after
    these tests billing_charge would stay "analysed, empty" for every later test
    of the session, whose plans then loop over scans of it. Put the tables back
    to never analysed, as on a fresh test database."""
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE oid IN "
            "('billing_charge'::regclass, 'messaging_message'::regclass)"
        )


def _nodes(plan: dict, ancestors: tuple = ()):
    yield plan, ancestors
    for child in plan.get("Plans", []):
        yield from _nodes(child, (*ancestors, plan))


def _plan(company, *, invoice=None) -> dict:
    select, params = _charge_select(
        company=company, until=END, invoice=invoice, entry_points=False
    )
    columns = ", ".join(_quote(c) for c in CHARGE_COLUMNS)
    with connection.cursor() as cursor, charge_planner(cursor):
        cursor.execute(
            f"EXPLAIN (FORMAT JSON) INSERT INTO billing_charge ({columns}) {select} "  # noqa: S608
            "ON CONFLICT (message_id) DO NOTHING",
            params,
        )
        (raw,) = cursor.fetchone()
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def _charge_reads(plan: dict) -> list[tuple[dict, tuple]]:
    return [
        (node, ancestors)
        for node, ancestors in _nodes(plan)
        if node.get("Relation Name") == Charge._meta.db_table
    ]


def _world_with_deliveries(client, n: int) -> World:
    rate_card(
        rates={("Spain", "marketing"): "0.0615", ("Spain", "utility"): "0.02"},
        effective_from=T - timedelta(days=30),
    )
    world = World(client, start=T)
    world.contact_writes(T)
    for i in range(n):
        world.send_and_deliver("marketing", T + timedelta(minutes=i))
    return world


@pytest.mark.parametrize("charges_before", [0, 3])
def test_not_yet_charged_is_never_a_nested_loop_over_a_scan_of_billing_charge(
    client, charges_before
):
    world = _world_with_deliveries(client, 8)
    if charges_before:
        # A few charges already (another month's invoice, say), then analysed.
        from billing.services import charges_sync

        Charge.objects.all().delete()  # the month so far's, synced on delivery
        charges_sync(
            company=world.company, invoice=None, until=T + timedelta(minutes=3)
        )
        assert Charge.objects.count() == charges_before
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_charge")
        cursor.execute("ANALYZE messaging_message")
    plan = _plan(world.company)
    text = json.dumps(plan)
    reads = [n for n in _charge_reads(plan) if n[0]["Node Type"] != "ModifyTable"]
    assert reads, "the plan must test which messages are charged already"
    for node, ancestors in reads:
        assert not _rescanned_per_row(node, ancestors, text), json.dumps(plan, indent=1)


def _rescanned_per_row(node: dict, ancestors: tuple, text: str) -> bool:
    """A sequential scan of billing_charge that runs once per outer row: on the
    inside of a nested loop of its own (sub)plan, or in a subplan that is not
    hashed (a hashed subplan is read once per statement)."""
    if node["Node Type"] != "Seq Scan":
        return False
    chain = (*ancestors, node)
    for index in range(len(chain) - 1, -1, -1):
        if chain[index].get("Parent Relationship") in ("SubPlan", "InitPlan"):
            boundary = chain[index]
            name = boundary.get("Subplan Name", "")
            own = chain[index + 1 :]
            if boundary.get("Parent Relationship") == "SubPlan" and (
                f"hashed {name})" not in text
            ):
                return True
            return any(a["Node Type"] == "Nested Loop" for a in (boundary, *own[:-1]))
    return any(a["Node Type"] == "Nested Loop" for a in ancestors)


def test_the_plan_hashes_the_charged_set_once(client):
    world = _world_with_deliveries(client, 4)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_charge")
    plan = _plan(world.company)
    text = json.dumps(plan)
    assert "hashed SubPlan" in text, json.dumps(plan, indent=1)


def test_the_plan_looks_up_no_market_prefix_or_rate_per_message(client):
    """C6 once per contact and once per (market, category, span): no subplan
    reads billing_marketprefix or billing_rate per delivered message."""
    world = _world_with_deliveries(client, 4)
    plan = _plan(world.company)
    for node, ancestors in _nodes(plan):
        if node.get("Relation Name") in ("billing_marketprefix", "billing_rate"):
            assert not any(
                a.get("Parent Relationship") == "SubPlan" for a in (*ancestors, node)
            ), json.dumps(plan, indent=1)


@pytest.mark.parametrize("analysed", [False, True])
def test_the_spans_are_joined_by_hash_not_compared_with_every_message(client, analysed):
    """The market and rate spans are joined to the messages by hash on their
    equality (contact; market and category): a nested loop compared every span
    with every message, half of the SELECT at 10 M messages. The plan's row
    estimates are one row whatever the statistics, so this holds either way."""
    world = _world_with_deliveries(client, 6)
    Charge.objects.all().delete()
    if analysed:
        # The two tables the plan's estimates come from; not the whole database:
        # ANALYZE writes the row counts outside the test's transaction, and the
        # tests after would plan with these tiny counts.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE billing_charge")
            cursor.execute("ANALYZE messaging_message")
    plan = _plan(world.company)
    spans = ("market_segments", "rate_segments")
    for node, ancestors in _nodes(plan):
        if node.get("CTE Name") in spans and node["Node Type"] == "CTE Scan":
            parent = ancestors[-1]
            joins = [a for a in ancestors if "Join" in a["Node Type"]] or [parent]
            assert parent["Node Type"] == "Hash", json.dumps(plan, indent=1)
            assert joins[-1]["Node Type"] in ("Hash Join", "Hash Left Join"), (
                json.dumps(plan, indent=1)
            )
