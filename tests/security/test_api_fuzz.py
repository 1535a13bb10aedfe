"""Fuzz the JSON API with schemathesis against its own OpenAPI schema.

The schema is read from ``/api/schema/`` through the WSGI application, like a
client would, and every operation is called with generated input in four auth
states: anonymous, a licensed agent's token, an unlicensed agent's token and a
company admin's token (billing's operations answer admins only).
Each operation gets three kinds of input:

* ``positive``: valid by the schema, ids at random (mostly "not found");
* ``negative``: invalid by the schema (wrong types, out of range, missing);
* ``grounded``: valid, with ids drawn from real objects of companies A and B,
  so successful answers (200, 201) and their bodies are checked too.

Every answer must not be a server error, must have a status and a content type
the schema documents, and must match the documented body. The cases are
generated once per module by tests/security/fuzz_cases.py in a subprocess with
a fixed hash seed (hypothesis derandomized, 30 examples per operation and
mode), so the same requests are sent on every run and on every database. The
known gaps are listed in ``KNOWN`` and each is reproduced by a strict xfail test
at the end of this module.
"""

import copy
import json
import logging
import os
import subprocess
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import Client
from django.urls import reverse

from . import fuzz_cases
from .conftest import T, Tenant

schemathesis = pytest.importorskip("schemathesis")

from schemathesis import GenerationConfig  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.constants import NOT_SET  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.django_db

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)
# The contact of A wrote at T + 1 h: its window is open now, so text sends can pass.
FUZZ_AT = T + timedelta(hours=1, minutes=30)


@dataclass(frozen=True)
class Known:
    """A finding reported and reproduced by a strict xfail test below."""

    operation: str
    check: str
    status: int
    test: str
    matches: Callable[[object], bool] = lambda case: True


def _nul_in_idempotency_header(case) -> bool:
    return "\x00" in (case.headers or {}).get("Idempotency-Key", "")


# Every finding so far is fixed in messaging/api.py; add new ones here.
KNOWN: list[Known] = []


def known(operation: str, check: str, status: int, case) -> Known | None:
    for item in KNOWN:
        key = (item.operation, item.check, item.status)
        if key == (operation, check, status) and item.matches(case):
            return item
    return None


@pytest.fixture
def wsgi_app():
    """The project's WSGI application, inside the test's transaction.

    Django closes the connection when a request starts or finishes; the test
    client turns that off, and so must a raw WSGI caller, or the test's
    transaction would be closed under it.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


class ServerErrors(logging.Handler):
    """Keep the traceback of every 500 that Django logs."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.last = ""

    def emit(self, record):
        if record.exc_info:
            self.last = "".join(traceback.format_exception(*record.exc_info))


@pytest.fixture
def server_errors():
    handler = ServerErrors()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


# Symbol -> real id, in the order of fuzz_cases.SYMBOLS / template_symbols().
GROUNDED = {
    "conversation": lambda a, b: [a.conversation.pk, b.conversation.pk, 10**9],
    "template": lambda a, b: (
        [t.pk for t in a.world.templates.values()] + [b.world.templates["utility"].pk]
    ),
    "business_number": lambda a, b: [a.world.number.pk, b.world.number.pk],
    "invoice": lambda a, b: [a.invoice.pk, b.invoice.pk, 10**9],
    "usage_line": lambda a, b: [a.usage_line.pk, b.usage_line.pk, 10**9],
    "credit_note": lambda a, b: [a.credit_note.pk, b.credit_note.pk, 10**9],
}
# Path parameter -> the kind of its grounded ids.
PATH_KINDS = {
    "id": "conversation",
    "conversation_id": "conversation",
    "invoice_id": "invoice",
    "line_id": "usage_line",
    "credit_note_id": "credit_note",
}
BILLING_OPERATIONS = {
    "GET /api/invoices/",
    "GET /api/invoices/{invoice_id}/",
    "GET /api/invoices/{invoice_id}/lines/{line_id}/charges/",
    "GET /api/invoices/{invoice_id}/free-messages/",
    "GET /api/credit-notes/",
    "GET /api/credit-notes/{credit_note_id}/",
    "GET /api/usage/",
}


def ground(case, a: Tenant, b: Tenant) -> None:
    """Replace the symbols of a grounded case with the real ids."""

    def real(kind, symbol):
        if isinstance(symbol, int) and not isinstance(symbol, bool):
            return GROUNDED[kind](a, b)[symbol - 1]
        return symbol

    for name, value in (case.path_parameters or {}).items():
        case.path_parameters[name] = real(PATH_KINDS[name], value)
    if case.query and "business_number" in case.query:
        case.query["business_number"] = real(
            "business_number", case.query["business_number"]
        )
    if isinstance(case.body, dict):
        for kind in ("conversation", "template"):
            if kind in case.body:
                case.body[kind] = real(kind, case.body[kind])
        if "from_number" in case.body:
            case.body["from_number"] = real("business_number", case.body["from_number"])


@pytest.fixture(scope="module")
def generated_cases(tmp_path_factory) -> dict:
    """Every case, generated with a fixed hash seed (see fuzz_cases.py)."""
    output = tmp_path_factory.mktemp("fuzz") / "cases.json"
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        # Generation needs no database; make sure it touches none.
        "DATABASE_URL": "sqlite://:memory:",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.security.fuzz_cases", str(output)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return json.loads(output.read_text())


class Fuzzer:
    def __init__(self, server_errors: ServerErrors, tenants):
        self.server_errors = server_errors
        self.tenants = tenants
        self.requests = 0
        self.unsendable = 0
        self.statuses: Counter = Counter()
        self.findings: dict[tuple, str] = {}
        self.known: Counter = Counter()

    def send(self, operation, item: dict, headers: dict):
        item = copy.deepcopy(item)  # the cases are shared by the three auth states
        case = operation.make_case(
            path_parameters=item["path_parameters"],
            headers=item["headers"],
            cookies=item["cookies"],
            query=item["query"],
            body=item.get("body", NOT_SET),
            media_type=item["media_type"],
        )
        if item["mode"] == "grounded":
            ground(case, *self.tenants)
        self.server_errors.last = ""
        # A server error may leave the transaction unusable (PostgreSQL).
        savepoint = transaction.savepoint()
        response = case.call_wsgi(headers=headers)
        if response.status_code >= 500:
            transaction.savepoint_rollback(savepoint)
        else:
            transaction.savepoint_commit(savepoint)
        self.requests += 1
        self.statuses[(operation.verbose_name, response.status_code)] += 1
        for check in CHECKS:
            try:
                check(None, response, case)
            except AssertionError as exc:
                key = (operation.verbose_name, check.__name__, response.status_code)
                known_item = known(*key, case)
                if known_item is not None:
                    self.known[known_item.test] += 1
                    continue
                self.findings.setdefault(
                    key,
                    f"{item['mode']}: path={case.path_parameters} query={case.query} "
                    f"headers={case.headers} body={case.body!r} -> "
                    f"{response.status_code} {response.get_data(as_text=True)[:300]}"
                    f"\n{exc}\n{self.server_errors.last}",
                )


@pytest.mark.parametrize("auth", ["anonymous", "licensed", "unlicensed", "admin"])
def test_api_answers_as_documented(
    tenants, wsgi_app, server_errors, generated_cases, auth, capsys
):
    a, b = tenants
    user = {
        "anonymous": None,
        "licensed": a.agent,
        "unlicensed": a.unlicensed_agent,
        # A company admin, unlicensed: billing answers, sending is refused.
        "admin": a.admin,
    }[auth]
    headers = {"Authorization": f"Token {a.token_for(user)}"} if user else {}
    fuzzer = Fuzzer(server_errors, tenants)
    with time_machine.travel(FUZZ_AT, tick=False):
        schema = fuzz_cases.schema_load(wsgi_app)
        grounded = schemathesis.from_dict(
            fuzz_cases.schema_grounded(schema.raw_schema),
            app=wsgi_app,
            generation_config=GenerationConfig(with_security_parameters=False),
        )
        for item in generated_cases["cases"]:
            source = grounded if item["mode"] == "grounded" else schema
            method, path = item["operation"].split(" ", 1)
            fuzzer.send(source[path][method], item, headers)
    operations = {item["operation"] for item in generated_cases["cases"]}
    fuzzer.unsendable = generated_cases["unsendable"]

    with capsys.disabled():
        print(
            f"\nAPI fuzz ({auth}): {fuzzer.requests} requests on {len(operations)} "
            f"operations ({fuzzer.unsendable} generated cases not encodable); "
            f"known findings: {dict(fuzzer.known)}"
        )
    assert fuzzer.findings == {}, "\n\n".join(
        f"{k}\n{v}" for k, v in fuzzer.findings.items()
    )
    assert len(operations) == 12
    assert operations == {
        f"{method.upper()} {path}"
        for path, methods in schema.raw_schema["paths"].items()
        for method in methods
    }
    # Grounded ids have few values, so hypothesis runs out of distinct cases early.
    assert fuzzer.requests >= 250
    # The grounded input reaches real objects, so bodies of successes are checked.
    reached = {op for (op, status), n in fuzzer.statuses.items() if status < 300}
    if auth == "anonymous":
        assert reached == set()
    else:
        assert reached >= {
            "GET /api/conversations/",
            "GET /api/conversations/{id}/",
            "GET /api/conversations/{conversation_id}/messages/",
        }
    # Billing is for company admins: agents get 403 there (or 404 for a path
    # no route matches, such as an id that is not a number).
    billing = {
        status
        for (op, status), n in fuzzer.statuses.items()
        if op in BILLING_OPERATIONS
    }
    if auth in ("licensed", "unlicensed"):
        assert 403 in billing
        assert billing <= {403, 404}
    if auth == "admin":
        assert reached >= BILLING_OPERATIONS
        assert fuzzer.statuses[("POST /api/messages/", 403)] > 0
    if auth == "licensed":
        assert fuzzer.statuses[("POST /api/messages/", 201)] > 0
        assert fuzzer.statuses[("POST /api/conversations/", 201)] > 0
        assert fuzzer.statuses[("POST /api/conversations/", 409)] > 0
    if auth == "unlicensed":
        assert fuzzer.statuses[("POST /api/messages/", 403)] > 0
        assert fuzzer.statuses[("POST /api/conversations/", 403)] > 0


# --- Known findings, reproduced ------------------------------------------------------


def _check(app, operation_name: str, check, *, headers=None, **case_kwargs):
    schema = fuzz_cases.schema_load(app)
    method, path = operation_name.split(" ", 1)
    operation = schema[path][method]
    case = operation.make_case(**case_kwargs)
    response = case.call_wsgi(headers=headers or {})
    check(None, response, case)
    return response


@pytest.mark.parametrize(
    "operation,path_parameters",
    [
        ("GET /api/conversations/", None),
        ("GET /api/conversations/{id}/", {"id": 1}),
        ("GET /api/conversations/{conversation_id}/messages/", {"conversation_id": 1}),
    ],
)
def test_anonymous_401_is_documented(wsgi_app, operation, path_parameters):
    _check(
        wsgi_app,
        operation,
        status_code_conformance,
        path_parameters=path_parameters,
    )


def test_unknown_business_number_400_is_documented(tenants, wsgi_app):
    a, _ = tenants
    response = _check(
        wsgi_app,
        "GET /api/conversations/",
        status_code_conformance,
        headers={"Authorization": f"Token {a.token_for(a.agent)}"},
        query={"business_number": 10**9},
    )
    assert response.status_code == 400


def test_invalid_page_404_is_documented(tenants, wsgi_app):
    a, _ = tenants
    response = _check(
        wsgi_app,
        "GET /api/conversations/",
        status_code_conformance,
        headers={"Authorization": f"Token {a.token_for(a.agent)}"},
        query={"page": 99},
    )
    assert response.status_code == 404


def test_nul_in_the_idempotency_key_header_is_refused(tenants):
    a, _ = tenants
    client = Client(raise_request_exception=False)
    with time_machine.travel(FUZZ_AT, tick=False):
        response = client.post(
            reverse("api-message-create"),
            {"conversation": a.conversation.pk, "text": "Hello"},
            content_type="application/json",
            headers={
                "Authorization": f"Token {a.token_for(a.agent)}",
                "Idempotency-Key": "key\x00",
            },
        )
    assert response.status_code == 400
    assert "idempotency_key" in response.json()
