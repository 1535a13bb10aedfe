"""The webhook under hostile input, beyond tests/messaging/test_webhook.py.

Every correctly signed body is an input the endpoint must survive: the provider
(or anyone holding the app secret) may send anything. The main sweep takes the
real sample payloads in tests/fixtures/whatsapp/ and, for every path in them
(containers and leaves, down to the root), replaces the value with values of
the wrong type: the answer is 400 with nothing stored, or 200 with the delivery
stored and processed without crashing; never a 5xx.
"""

import copy
import hashlib
import json
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from messaging.models import (
    Message,
    MessageStatusEvent,
    WebhookDelivery,
)
from tests import whatsapp
from tests.factories import (
    BusinessNumberFactory,
    ConversationFactory,
    MessageTemplateFactory,
)

pytestmark = pytest.mark.django_db

# The whole webhook payloads among the samples (the others are fragments).
SAMPLES = sorted(
    path.name
    for path in whatsapp.FIXTURES.glob("*.json")
    if json.loads(path.read_text()).get("object") == "whatsapp_business_account"
)
MB = 1024 * 1024
LONG = "x" * MB  # 1 MB: far above every field's size, within the 3 MB body limit

# Values of the wrong type; each replaces a value of another JSON type.
WRONG = {
    "null": None,
    "zero": 0,
    "negative": -1,
    "float": 1.5,
    "huge int": 2**64,
    "true": True,
    "empty list": [],
    "list of null": [None],
    "empty dict": {},
    "dict": {"x": 1},
    "string": "x",
}
# Values of the right type with hostile content.
STRINGY = {
    "empty string": "",
    "1 MB string": LONG,
    "NUL in string": "a\x00b",
    "lone surrogate": "a\ud800b",
}
NUMBERY = {"int32 overflow": 2**31, "int64 overflow": 2**64, "big float": 1e308}
# Timestamps: negative, huge, not an integer.
TIMESTAMPS = {
    "ts negative": "-1",
    "ts negative int": -1,
    "ts zero": "0",
    "ts huge": "99999999999999999999",
    "ts huge int": 10**20,
    "ts 5000 digits": "9" * 5000,
    "ts fraction": "1749416383.5",
    "ts exponent": "1.7e9",
    "ts float": 1749416383.5,
    "ts spaces": " 1749416383 ",
}


@dataclass(frozen=True)
class Known:
    """A finding of the sweep, reproduced by a strict xfail test below."""

    test: str
    variants: frozenset[str]
    # The end of the path ("*" matches any list index); None matches every path.
    suffix: tuple | None = None

    def matches(self, path: tuple, variant: str) -> bool:
        if variant not in self.variants:
            return False
        if self.suffix is None:
            return True
        tail = path[-len(self.suffix) :]
        return len(tail) == len(self.suffix) and all(
            want == "*" or want == got
            for want, got in zip(self.suffix, tail, strict=True)
        )


# Every finding so far is fixed (messaging/webhooks.py refuses unstorable text,
# over-long ids and out-of-range codes with a 400); add new ones here.
KNOWN: list[Known] = []


def known(path: tuple, variant: str) -> Known | None:
    return next((k for k in KNOWN if k.matches(path, variant)), None)


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def paths(node, prefix=()) -> Iterator[tuple]:
    """Yield the path of ``node`` and of everything inside it."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def get(doc, path):
    for step in path:
        doc = doc[step]
    return doc


def replaced(doc, path, value):
    if not path:
        return value
    doc = copy.deepcopy(doc)
    get(doc, path[:-1])[path[-1]] = value
    return doc


def mutations(sample: dict) -> Iterator[tuple[tuple, str, object]]:
    """Yield (path, variant, mutated document) for every path of ``sample``."""
    for path in paths(sample):
        original = get(sample, path)
        variants = {
            name: value
            for name, value in WRONG.items()
            if _json_type(value) != _json_type(original)
        }
        if isinstance(original, str) or not path:
            variants.update(STRINGY)
        if _json_type(original) == "number":
            variants.update(NUMBERY)
        if path and path[-1] == "timestamp":
            variants.update(TIMESTAMPS)
        for name, value in variants.items():
            yield path, name, replaced(sample, path, value)


def _world_for(sample: dict) -> None:
    """Give the sample's numbers a company, and its statuses their messages."""
    at = datetime(2025, 6, 1, tzinfo=UTC)
    for entry in sample["entry"]:
        for change in entry["changes"]:
            value = change["value"]
            if "metadata" not in value:
                # A template webhook (F9): the account's number and the template.
                number = BusinessNumberFactory(waba_id=str(entry["id"]))
                MessageTemplateFactory(
                    company=number.company,
                    name=value["message_template_name"],
                    language=value["message_template_language"],
                )
                continue
            number = BusinessNumberFactory(
                phone_number_id=value["metadata"]["phone_number_id"]
            )
            conversation = ConversationFactory(business_number=number)
            for status in value.get("statuses", []):
                Message.objects.get_or_create(
                    wamid=status["id"],
                    defaults={
                        "company": number.company,
                        "conversation": conversation,
                        "direction": Message.Direction.OUTBOUND,
                        "type": "text",
                        "provider_timestamp": at,
                        "status": Message.Status.ACCEPTED,
                    },
                )


def _post(client, body: bytes, **extra):
    """POST a correctly signed body; return (response, processing error)."""
    try:
        return whatsapp.post(client, body, **extra), ""
    except Exception:  # processing runs on commit; its crash is a finding
        return None, traceback.format_exc(limit=-6)


@pytest.fixture(autouse=True)
def _no_sandbox_statuses(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False


@pytest.mark.parametrize("name", SAMPLES)
def test_wrong_types_in_every_field_are_refused_or_survived(client, name, capsys):
    # given the sample's business numbers and messages
    sample = whatsapp.fixture(name)
    _world_for(sample)
    seen: set[str] = set()
    sent = refused = accepted = 0
    failures = []
    known_hits: Counter = Counter()
    # when every field of it, in turn, holds a value of the wrong type
    for path, variant, document in mutations(sample):
        body = json.dumps(document).encode()
        digest = hashlib.sha256(body).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        deliveries = WebhookDelivery.objects.count()
        response, crash = _post(client, body)
        sent += 1
        where = f"{'.'.join(map(str, path)) or '<root>'} = {variant}"
        # then it is refused with nothing stored, or stored and processed
        problems = []
        if crash:
            problems.append(f"{where}: processing crashed\n{crash}")
        elif response.status_code == 400:
            refused += 1
            if WebhookDelivery.objects.count() != deliveries:
                problems.append(f"{where}: 400 but a delivery was stored")
        elif response.status_code == 200:
            accepted += 1
            delivery = WebhookDelivery.objects.filter(body_sha256=digest).first()
            if delivery is None:
                problems.append(f"{where}: 200 but no delivery stored")
            elif delivery.status in (
                WebhookDelivery.Status.FAILED,
                WebhookDelivery.Status.RECEIVED,
            ):
                problems.append(f"{where}: 200, delivery {delivery.status}")
        else:
            problems.append(f"{where}: {response.status_code}")
        item = known(path, variant) if problems else None
        if item is not None:
            known_hits[item.test] += 1
        else:
            failures.extend(problems)

    with capsys.disabled():
        print(
            f"\nwebhook mutations ({name}): {sent} sent, {refused} refused (400), "
            f"{accepted} accepted (200); known findings: {sum(known_hits.values())}"
        )
    assert failures == [], "\n".join(failures)
    # The sweep really exercised both outcomes.
    assert refused > 0 and accepted > 0
    assert sent >= 100


# --- Shapes and sizes --------------------------------------------------------------


def _inbound(number, *, wamid="wamid.HOSTILE", text="Hi") -> dict:
    return whatsapp.inbound_payload(
        phone_number_id=number.phone_number_id,
        wa_id="34600999888",
        wamid=wamid,
        at=datetime(2025, 6, 1, 12, tzinfo=UTC),
        text=text,
    )


@pytest.mark.parametrize("depth", [100_000, 10_000])
def test_deeply_nested_objects_are_400(client, depth):
    # given a valid envelope whose text body is an object nested ``depth`` deep
    number = BusinessNumberFactory()
    body = json.dumps(_inbound(number, text="HOLE")).encode()
    nested = b'{"a":' * depth + b"0" + b"}" * depth
    body = body.replace(b'"HOLE"', nested)
    # when it is posted, correctly signed
    response, crash = _post(client, body)
    # then it is refused and nothing is stored
    assert crash == ""
    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("depth", [200, 500, 900])
def test_nesting_the_parser_accepts_is_processed_too(client, depth):
    # given nesting shallow enough for the parser, inside a stored JSON column
    number = BusinessNumberFactory()
    payload = _inbound(number)
    nested = 0
    for _ in range(depth):
        nested = {"a": nested}
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["extra"] = nested
    # when it is posted
    response, crash = _post(client, json.dumps(payload).encode())
    # then it is refused, or stored and processed: never a failed delivery
    assert crash == ""
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PROCESSED
        assert Message.objects.filter(wamid="wamid.HOSTILE").exists()
    else:
        assert not WebhookDelivery.objects.exists()


def test_a_thousand_status_updates_in_one_body_are_all_recorded(client):
    # given 1000 sent messages of one number
    number = BusinessNumberFactory()
    conversation = ConversationFactory(business_number=number)
    at = datetime(2025, 6, 1, 12, tzinfo=UTC)
    Message.objects.bulk_create(
        Message(
            company=number.company,
            conversation=conversation,
            direction=Message.Direction.OUTBOUND,
            type="text",
            wamid=f"wamid.BULK{i}",
            provider_timestamp=at,
            status=Message.Status.ACCEPTED,
        )
        for i in range(1000)
    )
    payload = whatsapp.status_payload(
        phone_number_id=number.phone_number_id,
        items=[
            whatsapp.status_item(
                wamid=f"wamid.BULK{i}", status="delivered", at=at + timedelta(seconds=2)
            )
            for i in range(1000)
        ],
    )
    # when their statuses come in one POST (Meta's maximum)
    response, crash = _post(client, json.dumps(payload).encode())
    # then every one is recorded and applied
    assert crash == ""
    assert response.status_code == 200
    assert WebhookDelivery.objects.get().result["statuses"] == 1000
    assert MessageStatusEvent.objects.count() == 1000
    assert Message.objects.filter(status=Message.Status.DELIVERED).count() == 1000


# --- Lies in the request ------------------------------------------------------------


@pytest.mark.parametrize(
    "content_length,statuses",
    [
        ("10", {400, 403}),  # says small, the body is big: only 10 bytes are read
        ("0", {400, 403}),
        (str(4 * MB), {413}),  # says over the limit
        ("abc", {400, 411, 413}),
        ("-1", {400, 411, 413}),
    ],
)
def test_a_lying_content_length_is_refused_and_stores_nothing(
    client, content_length, statuses
):
    sample = whatsapp.fixture("inbound_text__meta_docs.json")
    _world_for(sample)
    body = json.dumps(sample).encode()
    body += b" " * (64 * 1024)  # big: whitespace keeps it valid JSON
    response, crash = _post(client, body, CONTENT_LENGTH=content_length)
    assert crash == ""
    assert response.status_code in statuses
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        "application/json; charset=latin-1",
        "",
    ],
)
def test_a_signed_body_with_another_content_type_is_not_a_server_error(
    client, content_type
):
    # given a correctly signed sample sent with a content type Meta never uses
    sample = whatsapp.fixture("inbound_text__meta_docs.json")
    _world_for(sample)
    body = json.dumps(sample).encode()
    with whatsapp.on_commit():
        response = client.generic(
            "POST",
            reverse("whatsapp-webhook"),
            body,
            content_type=content_type,
            HTTP_X_HUB_SIGNATURE_256=whatsapp.sign(body),
        )
    # then the signature decides: the body is the one that was signed
    assert response.status_code in (200, 415)
    if response.status_code == 200:
        assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PROCESSED
    else:
        assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("with_handshake", [False, True])
def test_a_get_with_a_body_is_only_a_handshake(client, settings, with_handshake):
    settings.WHATSAPP_VERIFY_TOKEN = "verify-me"
    sample = whatsapp.fixture("inbound_text__meta_docs.json")
    _world_for(sample)
    body = json.dumps(sample).encode()
    query = "?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=42"
    response = client.generic(
        "GET",
        reverse("whatsapp-webhook") + (query if with_handshake else ""),
        body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=whatsapp.sign(body),
    )
    assert response.status_code == (200 if with_handshake else 403)
    if with_handshake:
        assert response.content == b"42"
    assert not WebhookDelivery.objects.exists()
    assert not Message.objects.exists()


@pytest.mark.parametrize("method", ["HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_are_405_even_when_signed(client, method):
    sample = whatsapp.fixture("inbound_text__meta_docs.json")
    _world_for(sample)
    body = json.dumps(sample).encode()
    response = client.generic(
        method,
        reverse("whatsapp-webhook"),
        body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=whatsapp.sign(body),
    )
    assert response.status_code == 405
    assert sorted(response["Allow"].split(", ")) == ["GET", "POST"]
    assert not WebhookDelivery.objects.exists()


# --- Known findings, reproduced -------------------------------------------------------

ON_POSTGRESQL = connection.vendor == "postgresql"
WHERE = "messaging/webhooks.py _parse_message/_parse_status (lines 178-217)"


def _text_body(value):
    def mutate(payload):
        payload["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = (
            value
        )

    return "inbound", mutate


def _message_field(field, value):
    def mutate(payload):
        payload["entry"][0]["changes"][0]["value"]["messages"][0][field] = value

    return "inbound", mutate


def _status_field(field, value):
    def mutate(payload):
        status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
        if field == "code":
            status["errors"] = [{"code": value, "title": "Hostile"}]
        else:
            status[field] = value

    return "status", mutate


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            _text_body("a\x00b"),
            id="NUL in a text body",
        ),
        pytest.param(
            _text_body("a\ud800b"),
            id="lone surrogate in a text body",
        ),
        pytest.param(
            _status_field("code", 2**31),
            id="error code 2**31",
        ),
        pytest.param(
            _status_field("code", 2**64),
            id="error code 2**64",
        ),
        pytest.param(
            _message_field("id", "w" * 256),
            id="message id of 256 chars",
        ),
        pytest.param(
            _message_field("from", "3" * 33),
            id="sender of 33 chars",
        ),
        pytest.param(
            _status_field("id", "w" * 256),
            id="status id of 256 chars",
        ),
    ],
)
def test_values_the_database_cannot_store_never_fail_a_delivery(client, case):
    """Refuse them at the door (400), or store them safely: never a failed delivery.

    A failed delivery is retried by the beat every 5 minutes up to 20 times and
    fails every time; the other, valid updates of the same POST are never recorded.
    """
    kind, mutate = case
    number = BusinessNumberFactory()
    at = datetime(2025, 6, 1, 12, tzinfo=UTC)
    if kind == "inbound":
        payload = _inbound(number)
    else:
        conversation = ConversationFactory(business_number=number)
        Message.objects.create(
            company=number.company,
            conversation=conversation,
            direction=Message.Direction.OUTBOUND,
            type="text",
            wamid="wamid.KNOWN",
            provider_timestamp=at,
            status=Message.Status.ACCEPTED,
        )
        payload = whatsapp.status_payload(
            phone_number_id=number.phone_number_id,
            items=[whatsapp.status_item(wamid="wamid.KNOWN", status="failed", at=at)],
        )
    mutate(payload)

    response, crash = _post(client, json.dumps(payload).encode())

    assert crash == ""
    if response.status_code == 400:
        assert not WebhookDelivery.objects.exists()
    else:
        assert response.status_code == 200
        assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PROCESSED
