"""The database goes away while the provider posts a webhook, for real: the test
database refuses connections (or drops the one processing the webhook) while the
running server receives a correctly signed body over HTTP.

The provider retries any non-200 answer with the same body, so the contract is:
answer an error (503 + Retry-After) and store nothing while the database is
down; once it is back, the retry is stored and processed once, and further
retries are duplicates.
"""

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import requests
import time_machine
from django.db import connection
from psycopg import sql

from messaging.models import Contact, Conversation, Message, WebhookDelivery
from tests import whatsapp
from tests.factories import BusinessNumberFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PHONE_NUMBER_ID = "106540352242922"


@pytest.fixture
def admin():
    """A connection to the server's ``postgres`` database, outside the test one."""
    db = connection.settings_dict
    conn = psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    yield conn
    conn.close()


@pytest.fixture
def quiet_server_errors():
    """The outage logs tracebacks on purpose; keep -s output readable."""
    names = ("django.request", "messaging.views", "messaging.services", "celery")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    yield
    for lg, level in zip(loggers, levels, strict=True):
        lg.setLevel(level)


def _connect(name: str) -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=name,
        autocommit=True,
    )


def _database_refuses_connections(admin, name: str) -> int:
    """ALLOW_CONNECTIONS false, then end every session of the database; returns
    how many were terminated."""
    admin.execute(
        sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
            sql.Identifier(name)
        )
    )
    return admin.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        [name],
    ).fetchone()[0]


def _database_back(admin, name: str) -> None:
    admin.execute(
        sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(
            sql.Identifier(name)
        )
    )


def _post(url: str, body: bytes) -> tuple[requests.Response, float]:
    started = time.perf_counter()
    response = requests.post(
        url,
        data=body,
        timeout=30,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": whatsapp.sign(body),
        },
    )
    return response, time.perf_counter() - started


def _inbound_body(wamid: str) -> bytes:
    payload = whatsapp.inbound_payload(
        phone_number_id=PHONE_NUMBER_ID,
        wa_id="34600111222",
        wamid=wamid,
        at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        text="Is my order on its way?",
    )
    return json.dumps(payload).encode()


def test_database_refusing_connections_answers_503_stores_nothing_and_the_retry_lands_once(
    live_server, admin, quiet_server_errors
):
    BusinessNumberFactory(phone_number_id=PHONE_NUMBER_ID)
    name = connection.settings_dict["NAME"]
    url = f"{live_server.url}/webhooks/whatsapp/"
    body = _inbound_body("wamid.OUTAGE1")

    # Sessions that exist when the database goes away: this test's own and an idle
    # one standing for a worker's persistent connection.
    connection.ensure_connection()
    worker_session = _connect(name)
    worker_session.execute("SELECT 1")
    terminated = _database_refuses_connections(admin, name)
    try:
        with pytest.raises(psycopg.OperationalError):
            worker_session.execute("SELECT 1")  # it was terminated
        with pytest.raises(psycopg.OperationalError, match="not currently accepting"):
            _connect(name).close()
        # The provider tries three times while the database is down.
        during = [_post(url, body) for _ in range(3)]
    finally:
        _database_back(admin, name)
        worker_session.close()
        # The terminated session of this thread is dropped as Django's health
        # check (CONN_HEALTH_CHECKS) does at the start of the next request.
        connection.close()

    for response, _ in during:
        assert response.status_code == 503, response.text[:300]
        assert response.headers["Retry-After"] == "30"
        assert response.headers["Content-Type"] == "application/json"
    # Nothing half-applied: no stored delivery, no message, no contact.
    assert WebhookDelivery.objects.count() == 0
    assert Message.objects.count() == 0
    assert Contact.objects.count() == 0

    # The database is back: the provider's retry is stored and processed once.
    retry, retry_s = _post(url, body)
    assert retry.status_code == 200, retry.text[:300]
    assert retry.json()["duplicate"] is False
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("processed", 1)
    message = Message.objects.get()
    assert (message.wamid, message.body) == ("wamid.OUTAGE1", "Is my order on its way?")
    assert Conversation.objects.get().last_inbound_at == message.provider_timestamp
    assert terminated >= 2  # this test's session and the idle one

    # A third POST of the same body is a duplicate: still one of everything.
    third, _ = _post(url, body)
    assert third.status_code == 200
    assert third.json() == {"delivery": delivery.pk, "duplicate": True}
    assert (WebhookDelivery.objects.count(), Message.objects.count()) == (1, 1)
    delivery.refresh_from_db()
    assert delivery.attempts == 1

    print(
        f"\n[outage] backends terminated: {terminated}; POSTs while down: "
        f"{len(during)} -> {[r.status_code for r, _ in during]} in "
        f"{', '.join(f'{s * 1000:.0f} ms' for _, s in during)}; "
        f"retry after recovery: 200 in {retry_s * 1000:.0f} ms; third POST: "
        f"duplicate; deliveries 1, messages 1"
    )


KILL_ON_MESSAGE_INSERT = """
CREATE OR REPLACE FUNCTION reliability_connection_lost() RETURNS trigger AS $$
BEGIN
    PERFORM pg_terminate_backend(pg_backend_pid());
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER reliability_connection_lost
    BEFORE INSERT ON messaging_message
    FOR EACH STATEMENT EXECUTE FUNCTION reliability_connection_lost();
"""


def test_connection_lost_while_processing_keeps_the_stored_delivery_for_the_retry(
    live_server, quiet_server_errors
):
    """The body is stored and committed, then the database connection dies in the
    middle of processing it (a trigger ends the session as messages are written):
    the processing rolls back entirely and the delivery is kept as failed. The
    answer was 200 (the body is safe), so the provider will not retry: the beat's
    deliveries_retry_task processes it, once; a later resend is a duplicate."""
    from messaging.tasks import deliveries_retry_task

    BusinessNumberFactory(phone_number_id=PHONE_NUMBER_ID)
    url = f"{live_server.url}/webhooks/whatsapp/"
    body = _inbound_body("wamid.OUTAGE2")
    with connection.cursor() as cursor:
        cursor.execute(KILL_ON_MESSAGE_INSERT)
    try:
        first, first_s = _post(url, body)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TRIGGER reliability_connection_lost ON messaging_message;"
                "DROP FUNCTION reliability_connection_lost();"
            )

    # Stored, so accepted; processing failed and rolled back as a whole.
    assert first.status_code == 200, first.text[:300]
    assert first.json()["duplicate"] is False
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert "terminating connection" in delivery.error
    assert Message.objects.count() == 0
    assert Contact.objects.count() == 0
    assert Conversation.objects.count() == 0
    attempts_after_fault = delivery.attempts

    # What beat runs every 5 minutes (called in-process; the processing it
    # enqueues is eager here): too recent at first, picked up once 2 minutes old.
    assert deliveries_retry_task() == 0
    with time_machine.travel(delivery.received_at + timedelta(minutes=3)):
        assert deliveries_retry_task() == 1
        assert deliveries_retry_task() == 0  # nothing left
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == ("processed", "")
    assert Message.objects.get().wamid == "wamid.OUTAGE2"

    resend, _ = _post(url, body)
    assert resend.json() == {"delivery": delivery.pk, "duplicate": True}
    assert (WebhookDelivery.objects.count(), Message.objects.count()) == (1, 1)
    print(
        f"\n[outage] connection killed mid-processing: answered {first.status_code} "
        f"in {first_s * 1000:.0f} ms; delivery kept as failed "
        f"(attempts {attempts_after_fault}), no message, contact or conversation; "
        f"the beat retry processed it once (attempts {delivery.attempts}); "
        f"a resend is a duplicate; deliveries 1, messages 1"
    )
