"""Tests for messaging.transports and messaging.payloads.

The Cloud API transport talks to a real HTTP server on 127.0.0.1 that stands in
for graph.facebook.com. The stand-in validates every request with openapi-core
against Meta's published OpenAPI spec (``shared/meta-openapi``, operationId
``sendMessage``, request schema ``Message``): path, headers, bearer security and
body. It then answers with the shapes Meta documents: the accepted response
(``tests/fixtures/whatsapp``) or a Graph API error envelope.
"""

import copy
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from django.core.exceptions import ImproperlyConfigured
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from requests.structures import CaseInsensitiveDict

from messaging.payloads import template_payload, text_payload
from messaging.transports import (
    CONNECTION_MESSAGE,
    MISSING_MESSAGE_ID_MESSAGE,
    PROVIDER_ERRORS,
    TIMEOUT_MESSAGE,
    CloudApiTransport,
    SandboxTransport,
    SendResult,
    TransportError,
    get_transport,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
# Meta's spec (MIT licensed) is vendored with its licence; override to test another.
SPEC_PATH = Path(
    os.environ.get(
        "WHATSAPP_OPENAPI_SPEC",
        REPO_ROOT
        / "tests"
        / "fixtures"
        / "meta-openapi"
        / "business-messaging-api_v23.0.yaml",
    )
)
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "whatsapp"
ACCEPTED_SAMPLE = FIXTURES / "send_response_template_accepted__meta_docs.json"
RATE_LIMIT_SAMPLE = FIXTURES / "send_error_130429_rate_limit__meta_docs.json"

# The stand-in answers as the server the spec declares, so openapi-core matches paths.
GRAPH_HOST_URL = "https://graph.facebook.com"
SEND_MESSAGE_PATH = "/{Version}/{Phone-Number-ID}/messages"
TOKEN = "EAAGtestToken_0123456789"
VERSION = "v23.0"
PHONE_NUMBER_ID = "106540352242922"
RECIPIENT = "16505551234"
SECRET_BODY = "Your one-time code is 493817"


# -- Meta's spec, repaired where it contradicts its own examples ---------------


def _spec_repair(spec: dict) -> dict:
    """Return ``spec`` with two JSON Schema slips fixed, keeping Meta's intent.

    1. Message types say ``allOf: [BaseMessageProperties, {additionalProperties:
       false, ...}]``. In JSON Schema the inner ``additionalProperties`` cannot see
       the base's ``to``/``type``/..., so even Meta's own "Send Text Message"
       example fails. OpenAPI 3.1 (JSON Schema 2020-12) has the keyword that was
       meant: ``unevaluatedProperties: false`` on the ``allOf`` itself. Unknown
       fields are still refused.
    2. ``TemplateComponent``, ``ParameterObject`` and ``ButtonParameterObject``
       name their subtypes only in a ``discriminator`` mapping, which a validator
       ignores without a ``oneOf``; template parameters would go unchecked. Where
       such a base is referenced (outside a subtype's own ``allOf``), dispatch to
       the mapped subtype with ``oneOf`` + ``discriminator``, which openapi-core
       resolves by the ``type`` field.
    """
    spec = copy.deepcopy(spec)
    prefix = "#/components/schemas/"
    dispatch = {
        prefix + name: schema["discriminator"]
        for name, schema in spec["components"]["schemas"].items()
        if "mapping" in schema.get("discriminator", {})
        and not {"oneOf", "anyOf"} & schema.keys()
    }

    def walk(node: Any, *, allof_item: bool = False) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, allof_item=allof_item)
            return
        if not isinstance(node, dict):
            return
        for branch in node.get("allOf", []):
            if isinstance(branch, dict) and branch.get("additionalProperties") is False:
                del branch["additionalProperties"]
                node["unevaluatedProperties"] = False
        discriminator = dispatch.get(node.get("$ref"))
        if discriminator is not None and not allof_item:
            del node["$ref"]
            node["oneOf"] = [{"$ref": ref} for ref in discriminator["mapping"].values()]
            node["discriminator"] = copy.deepcopy(discriminator)
        for key, value in node.items():
            walk(value, allof_item=key == "allOf")

    walk(spec)
    return spec


@pytest.fixture(scope="session")
def meta_spec() -> dict:
    """Return Meta's Business Messaging API spec as published."""
    if not SPEC_PATH.exists():
        pytest.skip(f"Meta's OpenAPI spec not found at {SPEC_PATH}")
    with SPEC_PATH.open() as spec_file:
        # The C loader reads the 1 MB spec in a fraction of the pure-Python time.
        return yaml.load(
            spec_file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )


@pytest.fixture(scope="session")
def meta_openapi(meta_spec: dict) -> OpenAPI:
    """Return the repaired spec as an openapi-core app."""
    # Checking the whole 30,000-line document is slow and not what we test here.
    return OpenAPI.from_dict(
        _spec_repair(meta_spec), config=Config(spec_validator_cls=None)
    )


@dataclass
class SpecRequest:
    """One received request in openapi-core's ``Request`` protocol, without werkzeug."""

    path: str
    body: bytes
    content_type: str
    parameters: RequestParameters
    host_url: str = GRAPH_HOST_URL
    method: str = "post"


@dataclass
class SpecResponse:
    """One answer in openapi-core's ``Response`` protocol."""

    data: bytes
    status_code: int = 200
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)


def spec_request(
    *, payload: Any, path: str = f"/{VERSION}/{PHONE_NUMBER_ID}/messages"
) -> SpecRequest:
    """Return a well-formed ``sendMessage`` request carrying ``payload``."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    return SpecRequest(
        path=path,
        body=json.dumps(payload).encode(),
        content_type="application/json",
        parameters=RequestParameters(header=CaseInsensitiveDict(headers)),
    )


def spec_errors(openapi: OpenAPI, request: SpecRequest) -> list[str]:
    """Return why ``request`` breaks Meta's spec; empty when it conforms."""
    try:
        openapi.validate_request(request)
    except Exception as exc:  # openapi-core raises several unrelated families.
        cause = exc.__cause__
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            return [error.message for error in schema_errors]
        return [f"{type(exc).__name__}: {exc} {cause or ''}".strip()]
    return []


# -- The stand-in for graph.facebook.com ---------------------------------------


@dataclass
class Received:
    """A request as the stand-in saw it."""

    path: str
    headers: CaseInsensitiveDict
    payload: Any
    spec_errors: list[str]


@dataclass
class FakeGraphApi:
    """State of the stand-in: what it received and what it will answer next."""

    openapi: OpenAPI
    token: str = TOKEN
    base_url: str = ""
    # Seconds to wait before answering, to provoke client timeouts.
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    replies: list[tuple[int, Any]] = field(default_factory=list)
    # Bugs in the stand-in itself; the fixture fails the test if any occurred.
    crashes: list[BaseException] = field(default_factory=list)

    def reply_next(self, *, status: int, body: Any) -> None:
        """Answer the next valid, authorised request with ``status`` and ``body``."""
        self.replies.append((status, body))

    def answer(self, *, path: str, headers: CaseInsensitiveDict, raw: bytes) -> tuple:
        """Return ``(status, body)`` for one request, as Meta would."""
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        request = SpecRequest(
            path=path,
            body=raw,
            content_type=headers.get("Content-Type", "").lower(),
            parameters=RequestParameters(header=headers),
        )
        errors = spec_errors(self.openapi, request)
        self.received.append(Received(path, headers, payload, errors))
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, graph_error(
                code=190,
                message="Invalid OAuth access token - Cannot parse access token",
            )
        if path != f"/{VERSION}/{PHONE_NUMBER_ID}/messages":
            return 400, graph_error(
                code=100,
                message="Unsupported post request. Object with ID does not exist.",
                type_="GraphMethodException",
            )
        if errors:
            return 400, graph_error(
                code=100, message="(#100) Invalid parameter", details=errors[0]
            )
        if self.replies:
            return self.replies.pop(0)
        accepted = json.loads(ACCEPTED_SAMPLE.read_text())
        accepted["contacts"] = [{"input": payload["to"], "wa_id": payload["to"]}]
        return 200, accepted


def graph_error(
    *, code: int, message: str, details: str = "", type_: str = "OAuthException"
) -> dict:
    """Return a Graph API error envelope shaped like Meta's documented samples."""
    error: dict = {
        "message": message,
        "type": type_,
        "code": code,
        "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUv",
    }
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


def _handler_for(api: FakeGraphApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if api.delay:
                time.sleep(api.delay)
            headers = CaseInsensitiveDict(dict(self.headers.items()))
            try:
                status, body = api.answer(path=self.path, headers=headers, raw=raw)
            except Exception as exc:
                api.crashes.append(exc)
                status, body = 500, b"stand-in crashed"
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            content_type = (
                "text/html" if isinstance(body, bytes) else "application/json"
            )
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # The client gave up first: the timeout test wants exactly that.

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def graph_api(meta_openapi: OpenAPI) -> Iterator[FakeGraphApi]:
    """Run the stand-in on a free local port for one test."""
    api = FakeGraphApi(openapi=meta_openapi)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(api))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    api.base_url = f"http://{host}:{port}"
    # A short poll keeps shutdown() from adding half a second to every test.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield api
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    assert api.crashes == []


def cloud_transport(
    api: FakeGraphApi, *, token: str = TOKEN, timeout: float = 5.0
) -> CloudApiTransport:
    """Return a Cloud API transport pointed at the stand-in."""
    return CloudApiTransport(
        base_url=api.base_url, version=VERSION, token=token, timeout=timeout
    )


def send_text(transport: CloudApiTransport, *, body: str = "Hello") -> SendResult:
    """Send a text to ``RECIPIENT`` from ``PHONE_NUMBER_ID``."""
    return transport.send(
        phone_number_id=PHONE_NUMBER_ID, payload=text_payload(to=RECIPIENT, body=body)
    )


def send_error(api: FakeGraphApi) -> TransportError:
    """Send a text through the stand-in and return the error it must raise."""
    with pytest.raises(TransportError) as excinfo:
        send_text(cloud_transport(api))
    return excinfo.value


# -- Payloads -------------------------------------------------------------------


def test_text_payload_builds_a_text_message():
    assert text_payload(to=RECIPIENT, body="Hi there") == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": RECIPIENT,
        "type": "text",
        "text": {"body": "Hi there", "preview_url": False},
    }


def test_template_payload_puts_params_in_the_body_component():
    payload = template_payload(
        to=RECIPIENT, name="order_update", language="en_US", body_params=["Ana", "42"]
    )

    assert payload["type"] == "template"
    assert payload["template"] == {
        "name": "order_update",
        "language": {"policy": "deterministic", "code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Ana"},
                    {"type": "text", "text": "42"},
                ],
            }
        ],
    }


def test_template_payload_without_params_has_no_components():
    payload = template_payload(
        to=RECIPIENT, name="hello_world", language="en_US", body_params=[]
    )

    assert "components" not in payload["template"]


VALID_PAYLOADS = {
    "text": text_payload(to=RECIPIENT, body="Hello"),
    "template with params": template_payload(
        to=RECIPIENT, name="order_update", language="en_US", body_params=["Ana", "42"]
    ),
    "template without params": template_payload(
        to=RECIPIENT, name="hello_world", language="en_US", body_params=[]
    ),
}


@pytest.mark.parametrize("payload", VALID_PAYLOADS.values(), ids=VALID_PAYLOADS.keys())
def test_payloads_conform_to_metas_message_schema(meta_openapi, payload):
    assert spec_errors(meta_openapi, spec_request(payload=payload)) == []


def _without_template_name() -> dict:
    payload = VALID_PAYLOADS["template with params"]
    return {
        **payload,
        "template": {k: v for k, v in payload["template"].items() if k != "name"},
    }


def _text_parameter_without_text() -> dict:
    payload = copy.deepcopy(VALID_PAYLOADS["template with params"])
    payload["template"]["components"][0]["parameters"][0] = {"type": "text"}
    return payload


INVALID_PAYLOADS = {
    "template without name": (
        _without_template_name(),
        "'name' is a required property",
    ),
    "text parameter without text": (
        _text_parameter_without_text(),
        "'text' is a required property",
    ),
    "unknown field": (
        {**VALID_PAYLOADS["text"], "priority": "high"},
        "'priority' was unexpected",
    ),
    "no recipient": (
        {k: v for k, v in VALID_PAYLOADS["text"].items() if k != "to"},
        "'to' is a required property",
    ),
    "text as a string": (
        {**VALID_PAYLOADS["text"], "text": "Hello"},
        "'Hello' is not of type 'object'",
    ),
}


@pytest.mark.parametrize(
    ("payload", "expected"), INVALID_PAYLOADS.values(), ids=INVALID_PAYLOADS.keys()
)
def test_spec_validator_rejects_invalid_payloads(meta_openapi, payload, expected):
    errors = spec_errors(meta_openapi, spec_request(payload=payload))

    assert any(expected in error for error in errors), errors


@pytest.mark.parametrize("name", ["Send Text Message", "Send Reply to Text Message"])
def test_repaired_spec_accepts_metas_own_text_examples(meta_spec, meta_openapi, name):
    operation = meta_spec["paths"][SEND_MESSAGE_PATH]["post"]
    example = operation["requestBody"]["content"]["application/json"]["examples"][name]

    assert spec_errors(meta_openapi, spec_request(payload=example["value"])) == []


def test_accepted_sample_matches_the_documented_response(meta_openapi):
    request = spec_request(payload=VALID_PAYLOADS["text"])

    meta_openapi.validate_response(request, SpecResponse(ACCEPTED_SAMPLE.read_bytes()))
    # Meta documents no required fields, so only a wrong shape can fail.
    with pytest.raises(OpenAPIError):
        meta_openapi.validate_response(
            request, SpecResponse(b'{"messages": {"id": "wamid.X"}}')
        )


# -- Cloud API transport: accepted messages ---------------------------------------


def test_cloud_api_sends_a_text_and_returns_the_wamid(graph_api):
    # when
    result = send_text(cloud_transport(graph_api), body="Hello")

    # then
    accepted = json.loads(ACCEPTED_SAMPLE.read_text())
    assert result == SendResult(wamid=accepted["messages"][0]["id"], wa_id=RECIPIENT)
    [received] = graph_api.received
    assert received.spec_errors == []
    assert received.path == f"/{VERSION}/{PHONE_NUMBER_ID}/messages"
    assert received.payload == text_payload(to=RECIPIENT, body="Hello")


@pytest.mark.parametrize(
    "body_params", [["Ana", "42"], []], ids=["params", "no params"]
)
def test_cloud_api_sends_templates_meta_accepts(graph_api, body_params):
    payload = template_payload(
        to=RECIPIENT, name="order_update", language="en_US", body_params=body_params
    )

    result = cloud_transport(graph_api).send(
        phone_number_id=PHONE_NUMBER_ID, payload=payload
    )

    assert result.wamid.startswith("wamid.")
    assert [r.spec_errors for r in graph_api.received] == [[]]
    assert graph_api.received[0].payload == payload


def test_cloud_api_sends_the_bearer_token_as_json(graph_api):
    send_text(cloud_transport(graph_api))

    [received] = graph_api.received
    assert received.headers["Authorization"] == f"Bearer {TOKEN}"
    assert received.headers["Content-Type"] == "application/json"


def test_cloud_api_uses_an_injected_session(graph_api):
    session = requests.Session()
    session.headers["User-Agent"] = "wa-billing/1.0.0"
    transport = CloudApiTransport(
        base_url=graph_api.base_url + "/",
        version=VERSION,
        token=TOKEN,
        timeout=5.0,
        session=session,
    )

    send_text(transport)

    assert graph_api.received[0].headers["User-Agent"] == "wa-billing/1.0.0"
    assert graph_api.received[0].spec_errors == []


def test_invalid_payload_is_refused_by_the_stand_in(graph_api):
    # given a template without its name, which Meta's schema requires
    payload, expected = INVALID_PAYLOADS["template without name"]

    # when
    with pytest.raises(TransportError) as excinfo:
        cloud_transport(graph_api).send(
            phone_number_id=PHONE_NUMBER_ID, payload=payload
        )

    # then
    error = excinfo.value
    assert error.provider_code == 100
    assert error.message == PROVIDER_ERRORS[100].message
    assert error.transient is False
    assert error.http_status == 400
    assert error.context["details"] == expected
    assert graph_api.received[0].spec_errors == [expected]


# -- Cloud API transport: refusals and failures -------------------------------


@pytest.mark.parametrize("http_status", [400, 429])
def test_rate_limit_130429_is_transient(graph_api, http_status):
    # given Meta's documented 130429 envelope
    sample = json.loads(RATE_LIMIT_SAMPLE.read_text())
    graph_api.reply_next(status=http_status, body=sample)

    # when
    error = send_error(graph_api)

    # then
    assert error.provider_code == 130429
    assert error.transient is True
    assert error.title == "Rate limit hit"
    assert error.message == PROVIDER_ERRORS[130429].message
    assert "try again shortly" in str(error)
    assert error.context["fbtrace_id"] == sample["error"]["fbtrace_id"]
    assert error.context["details"] == sample["error"]["error_data"]["details"]
    assert error.code == "transport_error"


@pytest.mark.parametrize(
    ("provider_code", "provider_message", "phrase"),
    [
        (131047, "(#131047) Re-engagement message", "24 hours"),
        (131026, "(#131026) Message undeliverable", "not be on WhatsApp"),
        (
            131049,
            "(#131049) This message was not delivered to maintain healthy "
            "ecosystem engagement.",
            "healthy ecosystem engagement",
        ),
        (132000, "(#132000) Number of parameters does not match", "parameters"),
        (132001, "(#132001) Template name does not exist in the translation", "exist"),
        (100, "(#100) Invalid parameter", "Invalid parameter"),
    ],
)
def test_refusals_map_to_clear_permanent_errors(
    graph_api, provider_code, provider_message, phrase
):
    graph_api.reply_next(
        status=400, body=graph_error(code=provider_code, message=provider_message)
    )

    error = send_error(graph_api)

    assert error.provider_code == provider_code
    assert error.transient is False
    assert error.message == PROVIDER_ERRORS[provider_code].message
    assert phrase in error.message
    assert error.context["provider_message"] == provider_message


def test_re_engagement_error_asks_for_a_template(graph_api):
    graph_api.reply_next(
        status=400,
        body=graph_error(code=131047, message="(#131047) Re-engagement message"),
    )

    error = send_error(graph_api)

    assert "template" in error.message
    assert error.title == "Re-engagement message"


def test_wrong_token_maps_to_190(graph_api):
    with pytest.raises(TransportError) as excinfo:
        send_text(cloud_transport(graph_api, token="EAAGexpired"))

    error = excinfo.value
    assert error.http_status == 401
    assert error.provider_code == 190
    assert error.transient is False
    assert error.message == PROVIDER_ERRORS[190].message


def test_unknown_phone_number_id_is_refused(graph_api):
    with pytest.raises(TransportError) as excinfo:
        cloud_transport(graph_api).send(
            phone_number_id="999", payload=text_payload(to=RECIPIENT, body="Hi")
        )

    assert excinfo.value.provider_code == 100
    assert graph_api.received[0].path == f"/{VERSION}/999/messages"


def test_unknown_code_keeps_metas_message(graph_api):
    graph_api.reply_next(
        status=400,
        body=graph_error(code=131009, message="(#131009) Parameter value is not valid"),
    )

    error = send_error(graph_api)

    assert error.provider_code == 131009
    assert error.message == "(#131009) Parameter value is not valid"
    assert error.title == "Parameter value is not valid"
    assert error.transient is False


@pytest.mark.parametrize(
    "body",
    [
        graph_error(code=1, message="An unknown error occurred"),
        b"<html><body>502 Bad Gateway</body></html>",
    ],
    ids=["graph envelope", "html page"],
)
def test_server_error_is_transient(graph_api, body):
    graph_api.reply_next(status=500, body=body)

    error = send_error(graph_api)

    assert error.http_status == 500
    assert error.transient is True


def test_accepted_answer_without_message_id_is_a_permanent_error(graph_api):
    graph_api.reply_next(
        status=200,
        body={"messaging_product": "whatsapp", "contacts": [], "messages": []},
    )

    error = send_error(graph_api)

    assert error.message == MISSING_MESSAGE_ID_MESSAGE
    assert error.transient is False


def test_timeout_is_transient(graph_api):
    # given a server slower than the client's patience
    graph_api.delay = 1.0
    transport = cloud_transport(graph_api, timeout=0.2)

    # when
    started = time.monotonic()
    with pytest.raises(TransportError) as excinfo:
        send_text(transport)

    # then
    assert time.monotonic() - started < 0.9
    assert excinfo.value.transient is True
    assert excinfo.value.message == TIMEOUT_MESSAGE


def test_connection_refused_is_transient():
    # given a port nobody listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = CloudApiTransport(
        base_url=f"http://127.0.0.1:{port}", version=VERSION, token=TOKEN, timeout=2.0
    )

    with pytest.raises(TransportError) as excinfo:
        send_text(transport)

    assert excinfo.value.transient is True
    assert excinfo.value.message == CONNECTION_MESSAGE


class RaisingSession(requests.Session):
    """A session whose network fails in a chosen way before any answer."""

    def __init__(self, exc: Exception):
        super().__init__()
        self.exc = exc

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "transient", "message"),
    [
        (requests.ConnectTimeout("connect timed out"), True, CONNECTION_MESSAGE),
        (requests.ReadTimeout("read timed out"), True, TIMEOUT_MESSAGE),
        (requests.exceptions.ChunkedEncodingError("cut"), True, CONNECTION_MESSAGE),
        (requests.TooManyRedirects("loop"), False, None),
    ],
    ids=["connect timeout", "read timeout", "cut answer", "redirect loop"],
)
def test_network_failures_map_by_kind(exc, transient, message):
    transport = CloudApiTransport(
        base_url="https://graph.example.test",
        version=VERSION,
        token=TOKEN,
        timeout=1.0,
        session=RaisingSession(exc),
    )

    with pytest.raises(TransportError) as excinfo:
        send_text(transport)

    assert excinfo.value.transient is transient
    if message is not None:
        assert excinfo.value.message == message


def test_misconfigured_base_url_is_a_permanent_error():
    transport = CloudApiTransport(
        base_url="", version=VERSION, token=TOKEN, timeout=1.0
    )

    with pytest.raises(TransportError) as excinfo:
        send_text(transport)

    assert excinfo.value.transient is False
    assert "MissingSchema" in excinfo.value.message


def test_failures_never_log_the_token_or_the_body(graph_api, caplog):
    transport = cloud_transport(graph_api)
    graph_api.reply_next(status=400, body=json.loads(RATE_LIMIT_SAMPLE.read_text()))

    with caplog.at_level(logging.DEBUG), pytest.raises(TransportError) as excinfo:
        send_text(transport, body=SECRET_BODY)

    assert "130429" in caplog.text
    for secret in (TOKEN, SECRET_BODY):
        assert secret not in caplog.text
        assert secret not in repr(transport)
        assert secret not in str(excinfo.value)
        assert secret not in repr(excinfo.value.context)


# -- Sandbox transport ----------------------------------------------------------


def test_sandbox_returns_unique_wamids():
    transport = SandboxTransport()
    payload = text_payload(to=RECIPIENT, body="Hi")

    results = [
        transport.send(phone_number_id=PHONE_NUMBER_ID, payload=payload)
        for _ in range(200)
    ]

    assert len({r.wamid for r in results}) == 200
    assert all(r.wamid.startswith("wamid.SANDBOX") for r in results)
    assert all(r.wa_id == RECIPIENT for r in results)


@pytest.mark.parametrize("missing", ["to", "type"])
def test_sandbox_refuses_a_payload_without_recipient_or_type(missing):
    payload = {
        k: v for k, v in text_payload(to=RECIPIENT, body="Hi").items() if k != missing
    }

    with pytest.raises(TransportError) as excinfo:
        SandboxTransport().send(phone_number_id=PHONE_NUMBER_ID, payload=payload)

    error = excinfo.value
    assert error.provider_code == 100
    assert error.title == "Invalid parameter"
    assert error.transient is False
    assert error.context["parameter"] == missing


# -- Choosing a transport -------------------------------------------------------


def test_get_transport_defaults_to_the_sandbox(settings):
    settings.WHATSAPP_TRANSPORT = "sandbox"

    assert isinstance(get_transport(), SandboxTransport)


def test_get_transport_builds_the_cloud_api_from_settings(settings):
    settings.WHATSAPP_TRANSPORT = "cloud_api"
    settings.WHATSAPP_API_BASE_URL = "https://graph.example.test/"
    settings.WHATSAPP_API_VERSION = "v23.0"
    settings.WHATSAPP_ACCESS_TOKEN = TOKEN
    settings.WHATSAPP_API_TIMEOUT = 3.5

    transport = get_transport()

    assert isinstance(transport, CloudApiTransport)
    assert transport.timeout == 3.5
    assert (
        transport.messages_url(phone_number_id=PHONE_NUMBER_ID)
        == f"https://graph.example.test/v23.0/{PHONE_NUMBER_ID}/messages"
    )


def test_get_transport_refuses_cloud_api_without_a_token(settings):
    settings.WHATSAPP_TRANSPORT = "cloud_api"
    settings.WHATSAPP_ACCESS_TOKEN = ""

    with pytest.raises(ImproperlyConfigured, match="WHATSAPP_ACCESS_TOKEN is empty"):
        get_transport()


def test_get_transport_refuses_an_unknown_name(settings):
    settings.WHATSAPP_TRANSPORT = "carrier_pigeon"

    with pytest.raises(
        ImproperlyConfigured, match="'carrier_pigeon'.*'sandbox' or 'cloud_api'"
    ):
        get_transport()
