"""Logs carry no secrets and no personal data, even with every logger at DEBUG.

One test drives the paths that log (webhook intake and processing, a refused
signature, the verification handshake, sends through the sandbox and through
the Cloud API, the JSON API, a failed login, a billing run) with recognisable
secrets and personal data, and then searches every log record for them.
"""

import json
import logging
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from billing.services import invoice_finalize
from messaging.exceptions import WindowClosed
from messaging.models import Message
from messaging.services import message_send
from messaging.transports import TransportError
from tests import whatsapp
from tests.billing_world import World, rate_card

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
APP_SECRET = "app-secret-S3NTINEL-0d6b1e"
VERIFY_TOKEN = "verify-token-S3NTINEL-77a1"
ACCESS_TOKEN = "EAAG-access-token-S3NTINEL-0123456789abcdef"
BAD_API_TOKEN = "0123456789abcdef0123456789abcdefS3NTINEL"
PASSWORD = "correct-horse-S3NTINEL"
WRONG_PASSWORD = "wrong-horse-S3NTINEL"
WA_ID = "34611223344"
CLOUD_WA_ID = "34622334455"
TEXTS = {
    "inbound": "Inbound secret S3NTINEL about the Tuesday delivery",
    "sandbox": "Sandbox reply S3NTINEL: your code is 7731",
    "api": "API reply S3NTINEL: your parcel is at gate 4",
    "cloud": "Cloud reply S3NTINEL: call me at 5512",
}


class GraphApi(BaseHTTPRequestHandler):
    """Meta's Graph API, answering one accepted send and then a refusal."""

    answers: list[tuple[int, dict]] = []

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        status, body = self.answers.pop(0)
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def graph_api(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), GraphApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.WHATSAPP_API_BASE_URL = f"http://127.0.0.1:{server.server_port}"
    GraphApi.answers = [
        (
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": CLOUD_WA_ID, "wa_id": CLOUD_WA_ID}],
                "messages": [{"id": "wamid.CLOUD1"}],
            },
        ),
        (
            401,
            {
                "error": {
                    "message": "Error validating access token: Session has expired",
                    "type": "OAuthException",
                    "code": 190,
                    "fbtrace_id": "AbCdEf",
                }
            },
        ),
    ]
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def every_logger_at_debug(caplog):
    """Root and every existing logger at DEBUG, all records into caplog."""
    caplog.set_level(logging.DEBUG)
    added = []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        caplog.set_level(logging.DEBUG, logger=name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            added.append(logger)
    yield caplog
    for logger in added:
        logger.removeHandler(caplog.handler)


def _record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write for ``record``."""
    parts = [record.getMessage(), repr(record.args), str(record.msg)]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    standard = logging.makeLogRecord({}).__dict__.keys() | {"message", "asctime"}
    parts += [repr(v) for k, v in record.__dict__.items() if k not in standard]
    return "\n".join(parts)


def test_no_log_record_holds_a_secret_or_personal_data(
    client, settings, every_logger_at_debug, graph_api, capsys
):
    caplog = every_logger_at_debug
    settings.WHATSAPP_APP_SECRET = APP_SECRET
    settings.WHATSAPP_VERIFY_TOKEN = VERIFY_TOKEN
    settings.WHATSAPP_ACCESS_TOKEN = ACCESS_TOKEN
    rate_card(
        rates={("Spain", "marketing"): "0.0615"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world = World(client, start=T, wa_id=WA_ID)
    agent = world.agent
    agent.set_password(PASSWORD)
    agent.save()
    api_token = Token.objects.create(user=agent).key
    caplog.clear()

    # A signed webhook: an inbound message, then statuses of a template.
    inbound = whatsapp.inbound_payload(
        phone_number_id=world.number.phone_number_id,
        wa_id=WA_ID,
        wamid="wamid.LOG1",
        at=T,
        text=TEXTS["inbound"],
        name="Ana Secret-Surname",
    )
    with time_machine.travel(T, tick=False):
        assert whatsapp.post(client, inbound).status_code == 200
    world.conversation = Message.objects.get(wamid="wamid.LOG1").conversation
    template = world.send_and_deliver("marketing", T + timedelta(minutes=5))
    world.status(template, "read", T + timedelta(minutes=6))
    # A refused signature, a tampered body and the handshake, right and wrong.
    assert whatsapp.post(client, inbound, signature="sha256=" + "0" * 64).status_code
    body = json.dumps(inbound).encode()
    assert (
        whatsapp.post(client, body + b" ", signature=whatsapp.sign(body)).status_code
        == 403
    )
    for token in (VERIFY_TOKEN, "a-wrong-guess"):
        client.get(
            reverse("whatsapp-webhook"),
            {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1"},
        )
    # A send through the sandbox, inside the window, and one refused after it.
    world.send_text(T + timedelta(minutes=10), text=TEXTS["sandbox"])
    with pytest.raises(WindowClosed):
        world.send_text(T + timedelta(days=2), text=TEXTS["sandbox"])
    # A send through the JSON API with a token, and a request with a wrong one.
    with (
        time_machine.travel(T + timedelta(minutes=20), tick=False),
        whatsapp.on_commit(),
    ):
        api = Client()
        response = api.post(
            reverse("api-message-create"),
            {"conversation": world.conversation.pk, "text": TEXTS["api"]},
            content_type="application/json",
            headers={"Authorization": f"Token {api_token}"},
        )
        assert response.status_code == 201
        assert (
            api.get(
                reverse("api-conversation-list"),
                headers={"Authorization": f"Token {BAD_API_TOKEN}"},
            ).status_code
            == 401
        )
    # Sends through the Cloud API: one accepted, one refused (expired token).
    settings.WHATSAPP_TRANSPORT = "cloud_api"
    world.wa_id = CLOUD_WA_ID
    world.conversation = None
    with time_machine.travel(T + timedelta(minutes=30), tick=False):
        message_send(
            sender=agent,
            conversation=world._conversation(),
            template=world.templates["marketing"],
        )
        with pytest.raises(TransportError):
            message_send(
                sender=agent,
                conversation=world._conversation(),
                template=world.templates["utility"],
            )
    settings.WHATSAPP_TRANSPORT = "sandbox"
    # A failed login, then a successful one.
    login = Client()
    login.post(reverse("login"), {"username": agent.email, "password": WRONG_PASSWORD})
    login.post(reverse("login"), {"username": agent.email, "password": PASSWORD})
    # A billing run: the month's invoice, computed and finalized.
    invoice = world.invoice(date(2026, 10, 1))
    with time_machine.travel(invoice.period_end + timedelta(days=3), tick=False):
        invoice_finalize(invoice=invoice)

    secrets = {
        "app secret": APP_SECRET,
        "verify token": VERIFY_TOKEN,
        "access token": ACCESS_TOKEN,
        "API token": api_token,
        "wrong API token": BAD_API_TOKEN,
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "contact number": WA_ID,
        "Cloud API contact number": CLOUD_WA_ID,
        "contact name": "Secret-Surname",
        **{f"{kind} text": text for kind, text in TEXTS.items()},
    }
    leaks = [
        f"{label} in {record.name} {record.levelname}: {record.getMessage()[:200]}"
        for record in caplog.records
        for label, secret in secrets.items()
        if secret in _record_text(record)
    ]
    with capsys.disabled():
        print(
            f"\nlogs: {len(caplog.records)} records from "
            f"{len({r.name for r in caplog.records})} loggers searched for "
            f"{len(secrets)} secrets"
        )
    assert leaks == []
    # The run really logged: requests, refusals, tasks, the transport, axes.
    names = {record.name for record in caplog.records}
    assert {"django.request", "messaging.views", "messaging.transports"} <= names
    assert any(name.startswith("axes") for name in names)
    assert any(name.startswith("celery") for name in names)
    assert len(caplog.records) >= 20
    # And the search can find what it looks for: the body of a refused webhook is
    # not logged, but the record of the refusal is there.
    assert any("Webhook refused" in r.getMessage() for r in caplog.records)
