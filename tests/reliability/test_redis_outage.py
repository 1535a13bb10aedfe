"""Redis goes away, for real: a private redis-server is the cache (sessions are
cached_db on it) and the Celery broker, and it is stopped mid-test.

Logins, portal pages and the API keep working from the database; a message the
API sent answers 201 (a retrying client must not send it twice), and the work
that needed the broker (the sandbox's status webhook) is done once it is back.
"""

import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta

import kombu.pools
import pytest
import time_machine
from django.urls import reverse
from kombu import Connection
from rest_framework.authtoken.models import Token

from config.celery_app import app
from messaging import tasks
from messaging.models import Message, MessageStatusEvent, WebhookDelivery
from tests import whatsapp
from tests.factories import BusinessNumberFactory, ConversationFactory, licensed_user

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        shutil.which("redis-server") is None, reason="needs redis-server"
    ),
]

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
PASSWORD = "pw"


class RedisServer:
    """A redis-server of this test alone, on a free port, without persistence."""

    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
            ],
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 10
        while not self._ping():
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self):
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "nosave"],
            capture_output=True,
        )
        deadline = time.monotonic() + 10
        while self._ping():
            assert time.monotonic() < deadline, "redis-server did not stop"
            time.sleep(0.05)

    def _ping(self) -> bool:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"], capture_output=True
        )
        return result.stdout.strip() == b"PONG"


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_cache(settings, redis_server):
    """The production cache configuration (django-redis, sessions cached_db),
    on the private server."""
    from config.settings.base import redis_cache

    settings.CACHES = redis_cache(redis_server.url)
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    return redis_server


@pytest.fixture
def broker(redis_server):
    """Celery publishing for real (not eager) to the private server's broker."""
    conf = app.conf
    saved = (conf.task_always_eager, conf.broker_url)

    def reset_pools():
        # The app's connection and producer pools are kombu's global ones (per
        # broker URL): close and forget them all, so each side of the test
        # builds fresh ones for its broker.
        kombu.pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    conf.task_always_eager = False
    conf.broker_url = redis_server.url
    reset_pools()
    try:
        yield redis_server
    finally:
        conf.task_always_eager, conf.broker_url = saved
        reset_pools()


@pytest.fixture
def world():
    with time_machine.travel(T - timedelta(days=30), tick=False):
        number = BusinessNumberFactory()
        agent = licensed_user(number.company, role="company_admin")
    agent.set_password(PASSWORD)
    agent.save()
    conversation = ConversationFactory(
        business_number=number,
        last_inbound_at=T - timedelta(hours=1),
        last_message_at=T - timedelta(hours=1),
    )
    return agent, conversation


def _login(client, user):
    return client.post(reverse("login"), {"username": user.email, "password": PASSWORD})


def _send(client, conversation, **headers):
    with whatsapp.on_commit():
        return client.post(
            reverse("api-message-create"),
            {"conversation": conversation.pk, "text": "Your parcel is at gate 4"},
            content_type="application/json",
            **headers,
        )


def test_logins_portal_pages_and_sends_keep_working_while_redis_is_down(
    client, django_user_model, redis_cache, world, settings
):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    agent, conversation = world
    with time_machine.travel(T, tick=True):
        # given a session made while Redis is up (cached there, kept in the database)
        assert _login(client, agent).status_code == 302
        assert client.get("/inbox/").status_code == 200
        # when Redis stops
        redis_cache.stop()
        started = time.monotonic()
        # then the session is read from the database: pages, the API
        assert client.get("/inbox/").status_code == 200
        assert client.get("/billing/invoices/").status_code == 200
        response = _send(client, conversation)
        assert response.status_code == 201, response.content[:300]
        # and a new login works (django-axes and the session store use the database)
        other = type(client)()
        assert _login(other, agent).status_code == 302
        assert other.get("/billing/invoices/").status_code == 200
        token = Token.objects.create(user=agent)
        api = type(client)(HTTP_AUTHORIZATION=f"Token {token.key}")
        assert api.get("/api/conversations/").status_code == 200
        elapsed = time.monotonic() - started
    assert Message.objects.filter(direction="out").count() == 1
    assert elapsed < 15, f"{elapsed:.1f} s: a dead cache must not slow every request"


def test_a_send_while_the_broker_is_down_answers_201_and_its_statuses_come_once_it_is_back(
    broker, world, settings, caplog
):
    from rest_framework.test import APIClient

    settings.WHATSAPP_TRANSPORT = "sandbox"
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = True
    agent, conversation = world
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=agent).key}")
    with time_machine.travel(T, tick=True):
        broker.stop()
        started = time.monotonic()
        with whatsapp.on_commit():
            response = api.post(
                reverse("api-message-create"),
                {"conversation": conversation.pk, "text": "Your parcel is at gate 4"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="parcel-4",
            )
        elapsed = time.monotonic() - started
    # the send was made: it answers its success, fast, and says what it deferred
    assert response.status_code == 201, response.content[:300]
    assert elapsed < 5, f"publishing to a dead broker took {elapsed:.1f} s"
    message = Message.objects.get(direction="out")
    assert message.status == "accepted"
    assert not MessageStatusEvent.objects.exists()
    warnings = [r.getMessage() for r in caplog.records if r.name == "accounts.queueing"]
    assert any("sandbox_statuses_emit_task" in w for w in warnings), warnings

    # once the broker is back, the beat's sweep enqueues the lost work again
    broker.start()
    with time_machine.travel(T + timedelta(minutes=1), tick=False):
        assert tasks.sandbox_statuses_retry_task() == 0  # too recent yet
    with time_machine.travel(T + timedelta(minutes=5), tick=False):
        assert tasks.sandbox_statuses_retry_task() == 1
    ran = _drain(broker.url)  # (kombu's timeouts need a running clock)
    assert ran[0] == ("messaging.tasks.sandbox_statuses_emit_task", [message.pk])
    assert "messaging.tasks.delivery_process_task" in [name for name, _ in ran]
    message.refresh_from_db()
    assert message.status == "read"
    assert set(MessageStatusEvent.objects.values_list("status", flat=True)) == {
        "sent",
        "delivered",
        "read",
    }
    assert WebhookDelivery.objects.get().status == "processed"
    with time_machine.travel(T + timedelta(minutes=10), tick=False):
        assert tasks.sandbox_statuses_retry_task() == 0  # done: nothing left
    # the client's retry of the same send is the same message, not a second one
    with time_machine.travel(T + timedelta(minutes=10), tick=True):
        again = api.post(
            reverse("api-message-create"),
            {"conversation": conversation.pk, "text": "Your parcel is at gate 4"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="parcel-4",
        )
    assert again.status_code in (200, 201)
    assert Message.objects.filter(direction="out").count() == 1


def _drain(url: str) -> list[tuple[str, list]]:
    """Run every task on the broker's queue here, as a worker would, until it is
    empty (a task may enqueue others); return (name, args) in the order run."""
    ran = []
    with Connection(url) as conn:
        queue = conn.SimpleQueue("celery")
        try:
            while True:
                try:
                    message = queue.get(timeout=1)
                except queue.Empty:
                    break
                name = message.headers["task"]
                args, kwargs, _ = message.decode()
                message.ack()
                with whatsapp.on_commit():
                    app.tasks[name].apply(args=args, kwargs=kwargs).get()
                ran.append((name, list(args)))
        finally:
            queue.close()
    return ran


def test_an_idle_license_notice_recorded_while_the_broker_is_down_is_emailed_once_it_is_back(
    broker, mailoutbox
):
    from licensing.models import IdleLicenseNotice
    from licensing.services import idle_license_notice_record
    from licensing.tasks import idle_license_notice_emails_retry_task
    from tests.factories import CompanyAdminFactory, CompanyFactory

    monday = datetime(2026, 3, 16, 7, tzinfo=UTC)
    with time_machine.travel(monday - timedelta(days=60), tick=False):
        company = CompanyFactory()
        licensed_user(company)
    CompanyAdminFactory(company=company)
    broker.stop()
    with time_machine.travel(monday, tick=True), whatsapp.on_commit():
        notice = idle_license_notice_record(company=company, at=monday)
    # recorded, its email not enqueued (and not raised into the weekly task)
    assert notice is not None and mailoutbox == []
    broker.start()
    with time_machine.travel(monday + timedelta(minutes=5), tick=False):
        assert idle_license_notice_emails_retry_task() == 0  # too recent yet
    with time_machine.travel(monday + timedelta(hours=1), tick=False):
        assert idle_license_notice_emails_retry_task() == 1
    ran = _drain(broker.url)
    assert ran == [("licensing.tasks.idle_license_notice_email_task", [notice.pk])]
    assert len(mailoutbox) == 1
    assert IdleLicenseNotice.objects.get().emailed_at is not None
    with time_machine.travel(monday + timedelta(hours=2), tick=False):
        assert idle_license_notice_emails_retry_task() == 0
