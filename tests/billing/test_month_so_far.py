"""The month so far: kept up to date incrementally from the changes, read by a GET
that performs no write and takes no lock, with the invoice's own numbers."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import selectors
from billing.models import Charge, UsageChange, UsageSnapshot
from billing.services import usage_sync
from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = T.date().replace(day=1)
LATER = datetime(2026, 10, 20, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_sandbox_statuses(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False


def _world(client) -> World:
    rate_card(
        rates={
            ("Spain", "marketing"): "0.0615",
            ("Spain", "utility"): "0.0200",
            ("Spain", "authentication"): "0.0300",
        },
        effective_from=T - timedelta(days=30),
    )
    return World(client, start=T)


def _numbers(invoice, lines) -> tuple:
    return (
        invoice.subtotal,
        invoice.tax,
        invoice.total,
        invoice.free_templates,
        [
            (ln.kind, ln.description, ln.quantity, ln.unit_price, ln.amount)
            for ln in lines
        ],
    )


@pytest.mark.django_db
def test_the_month_so_far_is_kept_incrementally_and_equals_the_invoice(client):
    world = _world(client)
    world.send_and_deliver("marketing", T)
    world.send_and_deliver("utility", T + timedelta(hours=1))  # no window: charged
    world.send_and_deliver("authentication", T + timedelta(hours=2))
    # every delivery synced on commit: nothing waits, the charges are unbilled
    assert not UsageChange.objects.exists()
    assert Charge.objects.filter(invoice=None).count() == 3
    with time_machine.travel(LATER, tick=False):
        so_far = selectors.month_so_far(company=world.company)
    assert [ln.quantity for ln in so_far.lines if ln.kind == "usage"] == [1, 1, 1]
    # C3: a late inbound message opens a window over the utility delivery; only
    # its conversation is synced again, incrementally
    world.contact_writes(T + timedelta(minutes=30))
    snapshot = UsageSnapshot.objects.get(company=world.company)
    assert snapshot.synced_at is not None
    with time_machine.travel(LATER, tick=False):
        so_far = selectors.month_so_far(company=world.company)
        invoice = world.invoice(OCT)
    assert _numbers(so_far.invoice, so_far.lines) == _numbers(
        invoice, list(invoice.lines.order_by("position"))
    )
    assert so_far.invoice.free_templates == 1


@pytest.mark.django_db
def test_a_sync_without_changes_rebuilds_nothing_and_a_new_rate_rebuilds_all(client):
    world = _world(client)
    world.send_and_deliver("marketing", T)
    assert usage_sync(company=world.company) == {
        "rebuilt": False,
        "conversations": 0,
        "messages": 0,
    }
    rate_card(
        rates={("Spain", "marketing"): "0.0700"}, effective_from=T - timedelta(days=1)
    )
    assert usage_sync(company=world.company)["rebuilt"] is True
    with time_machine.travel(LATER, tick=False):
        so_far = selectors.month_so_far(company=world.company)
        invoice = world.invoice(OCT)
    assert so_far.invoice.total == invoice.total
    assert [ln.unit_price for ln in so_far.lines if ln.kind == "usage"] == [
        ln.unit_price for ln in invoice.lines.filter(kind="usage")
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["billing:usage", "api-usage"])
def test_a_get_of_the_month_so_far_performs_no_write_and_takes_no_lock(client, url):
    world = _world(client)
    for i in range(3):
        world.send_and_deliver("marketing", T + timedelta(minutes=i))
    admin = CompanyAdminFactory(company=world.company)
    client.force_login(admin)
    with (
        time_machine.travel(LATER, tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        response = client.get(reverse(url))
    assert response.status_code == 200
    statements = [q["sql"].lstrip().upper() for q in queries.captured_queries]
    ours = [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]
    assert ours and all(s.startswith("SELECT") for s in ours), ours
    assert not [s for s in ours if "FOR UPDATE" in s or "FOR NO KEY" in s], ours
    assert not [s for s in ours if "BILLING_CHARGE" in s], "no charge is read"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks")
def test_a_license_assign_is_not_held_up_by_a_read_of_the_month_so_far(client):
    world = _world(client)
    world.send_and_deliver("marketing", T)
    company = world.company
    read = threading.Event()
    done = threading.Event()
    outcome = {}

    def lock_the_company_meanwhile():
        read.wait(10)
        try:
            with transaction.atomic(), connections["default"].cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM accounts_company WHERE id = %s "
                    "FOR NO KEY UPDATE NOWAIT",
                    [company.pk],
                )
                outcome["locked"] = cursor.fetchone()[0]
                cursor.execute(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c "
                    "ON c.oid = l.relation WHERE c.relname = 'billing_usagesnapshot' "
                    "AND l.mode NOT IN ('AccessShareLock') AND l.pid <> pg_backend_pid()"
                )
                outcome["snapshot_locks"] = cursor.fetchone()[0]
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc
        finally:
            connections["default"].close()
            done.set()

    thread = threading.Thread(target=lock_the_company_meanwhile)
    thread.start()
    # The GET's whole read inside one open transaction, kept open while another
    # connection takes the company's row lock (as license_assign does).
    with transaction.atomic():
        selectors.month_so_far(company=company)
        read.set()
        assert done.wait(10)
    thread.join()
    assert "error" not in outcome, outcome.get("error")
    assert outcome == {"locked": company.pk, "snapshot_locks": 0}


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_traffic_synced_incrementally_equals_the_invoice(client, seed):
    """Deliveries, late inbound messages (C3) and a free-form policy-free month
    on three numbers in random order, synced after every change; the month so far
    then has the numbers of the invoice computed from scratch."""
    import random

    rng = random.Random(seed)
    world = _world(client)
    numbers = ["34600111222", "34600333444", "34600555666"]
    for _ in range(12):
        world.wa_id, world.conversation = rng.choice(numbers), None
        at = T + timedelta(hours=rng.randint(0, 200), minutes=rng.randint(0, 59))
        if rng.random() < 0.3:
            # a late inbound message: arrives now, written before deliveries
            world.contact_writes(
                at - timedelta(hours=rng.randint(1, 30)), arrives=at + timedelta(1)
            )
        else:
            world.send_and_deliver(
                rng.choice(["marketing", "utility", "authentication"]), at
            )
    assert not UsageChange.objects.exists()  # every change synced on commit
    with time_machine.travel(LATER, tick=False):
        so_far = selectors.month_so_far(company=world.company)
        invoice = world.invoice(OCT)
    assert _numbers(so_far.invoice, so_far.lines) == _numbers(
        invoice, list(invoice.lines.order_by("position"))
    )


@pytest.mark.django_db
def test_charges_without_a_rate_keep_the_month_so_far_in_sync_and_say_what_is_missing(
    client,
):
    """C6: a delivered template in a market the rate card does not price is
    charged without an amount. The incremental sync carries on (it used to fail
    on every later change), and the page and the API give the priced part with
    what is not priced yet, instead of an error."""
    world = _world(client)
    world.wa_id = "491511234567"  # Germany: no rate on the card
    world.send_and_deliver("marketing", T)
    world.send_and_deliver("marketing", T + timedelta(minutes=5))  # incremental
    assert not UsageChange.objects.exists()
    snapshot = UsageSnapshot.objects.get(company=world.company)
    assert "None" not in str(snapshot.days)
    assert snapshot.groups[0]["n"] == 2 and snapshot.groups[0]["rate"] is None
    admin = CompanyAdminFactory(company=world.company)
    client.force_login(admin)
    with time_machine.travel(LATER, tick=False):
        page = client.get(reverse("billing:usage"))
        api = client.get(reverse("api-usage"))
    assert page.status_code == 200
    assert "2 marketing messages in Germany" in page.content.decode()
    assert api.status_code == 200
    assert api.json()["unpriced"] == [
        {"category": "marketing", "market": "Germany", "messages": 2}
    ]
    assert api.json()["total"] == "0.00"  # licenses are free in this world


@pytest.mark.django_db
def test_after_a_billing_run_the_month_so_far_is_summed_again_not_rebuilt(client):
    """A billing run moves the unbilled charges of its month onto the draft and
    leaves the others as they were: the next sync sums the unbilled charges
    again without rebuilding any, and has the numbers a full rebuild has."""
    from billing.services import invoice_compute

    world = _world(client)
    world.send_and_deliver("marketing", T)  # October
    november = datetime(2026, 11, 3, 9, tzinfo=UTC)
    world.send_and_deliver("utility", november)  # November, no window: charged
    with time_machine.travel(november + timedelta(hours=1), tick=False):
        invoice_compute(company=world.company, month=OCT)  # the billing run
        assert UsageSnapshot.objects.get(company=world.company).moved
        with CaptureQueriesContext(connection) as queries:
            done = usage_sync(company=world.company)
        assert done == {
            "rebuilt": False,
            "conversations": 0,
            "messages": 0,
            "moved": True,
        }
        writes = [
            q["sql"]
            for q in queries.captured_queries
            if q["sql"].lstrip().upper().startswith(("INSERT", "DELETE"))
        ]
        assert not writes, writes
        snapshot = UsageSnapshot.objects.get(company=world.company)
        assert not snapshot.moved
        so_far = selectors.month_so_far(company=world.company)
        assert [
            (ln.description, ln.quantity) for ln in so_far.lines if ln.kind == "usage"
        ] == [("Utility templates, Spain", 1)]
        assert usage_sync(company=world.company, full=True)["rebuilt"] is True
        rebuilt = selectors.month_so_far(company=world.company)
    assert _numbers(so_far.invoice, so_far.lines) == _numbers(
        rebuilt.invoice, rebuilt.lines
    )


@pytest.mark.django_db
def test_a_delivery_status_rebuilds_its_own_charge_only(client):
    """A status changes its own message's charge only: the sync rebuilds that
    charge, not its conversation's (which an inbound message does, C3), so a
    busy conversation does not cost its whole month at every sync."""
    world = _world(client)
    for i in range(3):
        world.send_and_deliver("marketing", T + timedelta(minutes=i))
    before = dict(Charge.objects.values_list("message_id", "pk"))
    late = world.send_and_deliver("utility", T + timedelta(hours=1))
    after = dict(Charge.objects.values_list("message_id", "pk"))
    assert {m: after[m] for m in before} == before  # untouched, same rows
    assert late.pk in after
    # an inbound message rebuilds its conversation: the utility is free now
    world.contact_writes(T + timedelta(minutes=30))
    rebuilt = dict(Charge.objects.values_list("message_id", "pk"))
    assert all(rebuilt[m] != after[m] for m in after)
    assert not Charge.objects.get(message=late).billable
