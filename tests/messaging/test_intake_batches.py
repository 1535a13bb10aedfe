"""What makes the webhook fast at the provider's normal traffic (one status per
POST), pinned as behaviour, not timings (those are bench/ingest.py's):

- the intake is one INSERT … ON CONFLICT … RETURNING per POST, a repeated body
  stored once (also when the same body races itself on PostgreSQL);
- a single-status delivery is processed in a bounded number of statements;
- on PostgreSQL, workers claim the waiting deliveries in batches (FOR UPDATE
  SKIP LOCKED) and each delivery is processed exactly once, however many
  workers claim at the same time;
- only the POST that raises the wake-up flag enqueues a task; the task lowers it
  and processes every delivery waiting.
"""

import json
import threading
import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from config.celery_app import app
from messaging import tasks
from messaging.models import Message, MessageStatusEvent, WebhookDelivery
from messaging.services import (
    deliveries_batched,
    deliveries_process_waiting,
    delivery_process,
    intake,
    webhook_receive,
)
from tests import whatsapp
from tests.factories import BusinessNumberFactory, ConversationFactory

T = datetime(2026, 10, 5, 9, tzinfo=UTC)


def _statements(queries) -> list[str]:
    """The SQL a block ran, without the savepoints of the test's transaction."""
    return [
        q["sql"]
        for q in queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def _status_body(number, wamids, *, nonce="", status="delivered") -> bytes:
    items = [whatsapp.status_item(wamid=w, status=status, at=T) for w in wamids]
    payload = whatsapp.status_payload(
        phone_number_id=number.phone_number_id, items=items
    )
    payload["entry"][0]["id"] = nonce or payload["entry"][0]["id"]
    return json.dumps(payload).encode()


@pytest.fixture
def outbound(db):
    number = _messages(3)
    return number, list(Message.objects.order_by("pk"))


@pytest.mark.django_db
def test_the_intake_of_a_post_is_one_insert_statement(client, outbound):
    number, messages = outbound
    body = _status_body(number, [messages[0].wamid])
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/webhooks/whatsapp/",
            data=body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=whatsapp.sign(body),
        )
    assert response.status_code == 200
    assert response.json()["duplicate"] is False
    statements = _statements(queries.captured_queries)
    assert len(statements) == 1, statements
    assert statements[0].startswith("INSERT INTO")
    assert "ON CONFLICT" in statements[0] and "RETURNING" in statements[0]
    delivery = WebhookDelivery.objects.get()
    assert response.json()["delivery"] == delivery.pk
    assert (delivery.status, delivery.body) == ("received", body.decode())


@pytest.mark.django_db
def test_a_repeated_post_is_stored_once_and_answered_as_a_duplicate(outbound):
    number, messages = outbound
    body = _status_body(number, [messages[0].wamid])
    first, created = webhook_receive(body=body, signature=whatsapp.sign(body))
    again, created_again = webhook_receive(body=body, signature=whatsapp.sign(body))
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db
def test_processing_a_single_status_delivery_takes_eight_statements(outbound):
    number, messages = outbound
    body = _status_body(number, [messages[0].wamid])
    delivery, _ = webhook_receive(body=body, signature=whatsapp.sign(body))
    with CaptureQueriesContext(connection) as queries:
        processed = delivery_process(delivery_id=delivery.pk)
    statements = _statements(queries.captured_queries)
    # lock the delivery, its number, lock the message, insert the event, read the
    # message's events, update the message, record the changed conversation for
    # the month so far (billing_usagechange), update the delivery (11 before)
    assert len(statements) == 8, "\n".join(statements)
    assert (processed.status, processed.attempts) == ("processed", 1)
    messages[0].refresh_from_db()
    assert (messages[0].status, messages[0].delivered_at) == ("delivered", T)


@pytest.mark.django_db
def test_the_worker_task_leaves_a_delivery_processed_meanwhile_alone(outbound):
    number, messages = outbound
    body = _status_body(number, [messages[0].wamid])
    delivery, _ = webhook_receive(body=body, signature=whatsapp.sign(body))
    delivery_process(delivery_id=delivery.pk)
    again = delivery_process(delivery_id=delivery.pk, pending_only=True)
    assert (again.status, again.attempts) == ("processed", 1)


def _messages(n: int):
    number = BusinessNumberFactory()
    conversation = ConversationFactory(business_number=number)
    Message.objects.bulk_create(
        [
            Message(
                company=number.company,
                conversation=conversation,
                direction="out",
                type="template",
                wamid=f"wamid.RACE{i}",
                provider_timestamp=T,
                status="accepted",
            )
            for i in range(n)
        ]
    )
    return number


def _store(bodies: list[bytes]) -> list[int]:
    return [webhook_receive(body=b, signature=whatsapp.sign(b))[0].pk for b in bodies]


def _in_threads(target, n: int) -> list:
    """Run ``target()`` in n threads at once (each its own connection)."""
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_deliveries_claimed_in_batches_by_concurrent_workers_are_each_processed_once(
    monkeypatch,
):
    # stored and waiting, their tasks not run yet (the workers below claim them)
    monkeypatch.setattr(intake, "_delivery_process_enqueue", lambda pk: None)
    number = _messages(240)
    other = BusinessNumberFactory()  # a second company: its own batch entries
    bodies = [_status_body(number, [f"wamid.RACE{i}"]) for i in range(200)]
    # two statuses per POST, a status for another company's number (an unknown
    # wamid there), an unknown number, and inbound messages (processed alone)
    bodies += [
        _status_body(number, [f"wamid.RACE{i}", f"wamid.RACE{i + 1}"], status="read")
        for i in range(200, 240, 2)
    ]
    bodies += [_status_body(other, ["wamid.RACE0"], nonce=f"o{i}") for i in range(5)]
    unknown = whatsapp.status_payload(
        phone_number_id="nobody",
        items=[whatsapp.status_item(wamid="wamid.X", status="sent", at=T)],
    )
    bodies.append(json.dumps(unknown).encode())
    for i in range(5):
        inbound = whatsapp.inbound_payload(
            phone_number_id=number.phone_number_id,
            wa_id=f"3460011122{i}",
            wamid=f"wamid.IN{i}",
            at=T,
            text="hola",
        )
        bodies.append(json.dumps(inbound).encode())
    ids = _store(bodies)
    assert len(ids) == len(bodies) == 231

    def worker():
        claims = []
        while claimed := deliveries_process_waiting(limit=25):
            claims.append(claimed)
        return claims

    claims = _in_threads(worker, 4)

    deliveries = list(WebhookDelivery.objects.filter(pk__in=ids))
    # each processed exactly once
    assert {(d.status, d.attempts) for d in deliveries} == {
        ("processed", 1),
        ("unmatched", 1),
    }
    assert [d.status for d in deliveries].count("unmatched") == 1
    # in batches, and by more than one worker
    assert max(c for worker_claims in claims for c in worker_claims) > 1
    assert sum(1 for worker_claims in claims if worker_claims) > 1
    assert sum(sum(c) for c in claims) >= len(ids)
    # every status recorded once, every message derived from its events
    assert MessageStatusEvent.objects.filter(company=number.company).count() == 200 + 40
    assert MessageStatusEvent.objects.filter(company=other.company).count() == 1
    assert (
        Message.objects.filter(wamid__startswith="wamid.RACE", status="delivered")
        .filter(delivered_at=T)
        .count()
        == 200
    )
    assert Message.objects.filter(
        wamid__startswith="wamid.RACE", status="read"
    ).count() == (40)
    assert Message.objects.filter(direction="in").count() == 5
    results = {d.pk: d.result for d in deliveries}
    assert results[ids[0]]["statuses"] == 1
    assert results[ids[200]]["statuses"] == 2
    assert results[ids[220]]["unknown_wamids"] == 1  # other's company has no such


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_body_posted_at_once_is_stored_once():
    number = _messages(1)
    body = _status_body(number, ["wamid.RACE0"])

    def post():
        return webhook_receive(body=body, signature=whatsapp.sign(body))

    results = _in_threads(post, 6)
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert len({d.pk for d, _ in results}) == 1
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_only_the_post_raising_the_wake_up_flag_enqueues_and_the_task_processes_all(
    monkeypatch,
):
    if not deliveries_batched():
        pytest.skip("needs the Redis cache (REDIS_URL)")
    monkeypatch.setattr(intake, "_WAKE_KEY", f"test-wake-{uuid.uuid4()}")
    monkeypatch.setattr(app.conf, "task_always_eager", False)
    enqueued = []
    monkeypatch.setattr(tasks.delivery_process_task, "delay", enqueued.append)
    number = _messages(4)
    ids = _store([_status_body(number, [f"wamid.RACE{i}"]) for i in range(3)])
    assert enqueued == [ids[0]]  # one task for the three POSTs
    # the worker runs it (not eager): it lowers the flag and processes them all
    result = tasks.delivery_process_task.run(ids[0])
    assert result["batched"] == 3
    assert set(
        WebhookDelivery.objects.filter(pk__in=ids).values_list("status", "attempts")
    ) == {("processed", 1)}
    assert Message.objects.filter(status="delivered").count() == 3
    # the next POST raises the flag again
    (last,) = _store([_status_body(number, ["wamid.RACE3"])])
    assert enqueued == [ids[0], last]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_process_that_saw_the_flag_up_asks_redis_again_only_after_the_memo(
    monkeypatch, settings
):
    if not deliveries_batched():
        pytest.skip("needs the Redis cache (REDIS_URL)")
    monkeypatch.setattr(intake, "_WAKE_KEY", f"test-wake-{uuid.uuid4()}")
    monkeypatch.setattr(intake, "_wake_up_until", 0.0)
    monkeypatch.setattr(app.conf, "task_always_eager", False)
    enqueued = []
    monkeypatch.setattr(tasks.delivery_process_task, "delay", enqueued.append)
    asked = []
    add = intake.cache.add
    monkeypatch.setattr(
        intake.cache, "add", lambda *a, **kw: asked.append(a[0]) or add(*a, **kw)
    )
    clock = [1000.0]
    monkeypatch.setattr(intake.time, "monotonic", lambda: clock[0])
    settings.WHATSAPP_WEBHOOK_WAKE_MEMO_SECONDS = 0.2
    number = _messages(4)
    first, second = _store([_status_body(number, [f"wamid.RACE{i}"]) for i in (0, 1)])
    assert enqueued == [first]
    assert len(asked) == 1  # the second POST, within the memo, did not ask
    clock[0] += 0.25
    _store([_status_body(number, ["wamid.RACE2"])])
    assert len(asked) == 2 and enqueued == [first]  # asked again: still up
    # Lowered by a worker in this process: the memo goes with it.
    intake.deliveries_wake_reset()
    (last,) = _store([_status_body(number, ["wamid.RACE3"])])
    assert enqueued == [first, last] and len(asked) == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_worker_lowering_the_flag_takes_what_a_post_that_saw_it_up_stores(
    monkeypatch, settings
):
    """A POST in another web process saw the flag up just before the worker
    lowered it, and so enqueues nothing: the worker waits the memo before its
    last claim, and that claim takes the delivery."""
    if not deliveries_batched():
        pytest.skip("needs the Redis cache (REDIS_URL)")
    monkeypatch.setattr(intake, "_WAKE_KEY", f"test-wake-{uuid.uuid4()}")
    monkeypatch.setattr(app.conf, "task_always_eager", False)
    monkeypatch.setattr(tasks.delivery_process_task, "delay", lambda pk: None)
    settings.WHATSAPP_WEBHOOK_WAKE_MEMO_SECONDS = 0.2
    settings.WHATSAPP_WEBHOOK_DRAIN_IDLE_SECONDS = 0.01
    number = _messages(2)
    (first,) = _store([_status_body(number, ["wamid.RACE0"])])
    late = []
    sleep = tasks.time.sleep

    def wait(seconds):
        if seconds == 0.2 and not late:  # the wait after lowering the flag
            late.extend(_store([_status_body(number, ["wamid.RACE1"])]))
        sleep(min(seconds, 0.01))

    monkeypatch.setattr(tasks.time, "sleep", wait)
    result = tasks.delivery_process_task.run(first)
    assert late and result["batched"] == 2
    assert WebhookDelivery.objects.get(pk=late[0]).status == "processed"
    assert Message.objects.filter(status="delivered").count() == 2


@pytest.mark.django_db
def test_the_intake_writes_three_columns_and_the_database_defaults_the_rest():
    """The intake's INSERT names the received time, the body and its hash; the
    stored row has every other column as the model's Python defaults say."""
    stored = set(intake._STORED_FIELDS)
    for field in WebhookDelivery._meta.concrete_fields:
        if field.primary_key or field.name in stored:
            continue
        if field.has_db_default():
            assert field.db_default == field.get_default(), field.name
        else:
            assert field.null and field.get_default() is None, field.name
    number = _messages(1)
    (pk,) = _store([_status_body(number, ["wamid.RACE0"], nonce="defaults")])
    row = WebhookDelivery.objects.values().get(pk=pk)
    assert {k: row[k] for k in ("status", "processed_at", "attempts", "error")} == {
        "status": "received",
        "processed_at": None,
        "attempts": 0,
        "error": "",
    }
    assert row["result"] == {}
    assert row["received_at"] is not None


def test_the_webhook_is_resolved_first_of_every_url():
    """The provider's POSTs are most requests: their URL is the first pattern
    tried, not the last of every app's."""
    from config.urls import urlpatterns
    from messaging.views import whatsapp_webhook

    assert urlpatterns[0].callback is whatsapp_webhook
    assert str(urlpatterns[0].pattern) == "webhooks/whatsapp/"


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_delivery_table_has_only_the_indexes_its_insert_and_update_need():
    """Each POST inserts a row and its worker updates it once: a B-tree for the
    primary key, the body's hash (ON CONFLICT) and the pending deliveries, a
    BRIN for the received time (no B-tree entry per insert and per update), and
    room on each page for the update to stay on its row's page."""
    table = WebhookDelivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, am.amname FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am am ON am.oid = c.relam "
            "WHERE i.indrelid = %s::regclass",
            [table],
        )
        indexes = dict(cursor.fetchall())
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [table]
        )
        (options,) = cursor.fetchone()
    assert indexes == {
        f"{table}_pkey": "btree",
        "messaging_delivery_body_once": "btree",
        "messaging_delivery_pending": "btree",
        "messaging_delivery_received_brin": "brin",
    }
    assert options == ["fillfactor=70"]
