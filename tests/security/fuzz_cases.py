"""Generate the API fuzzing cases, in a process of their own.

Schemathesis and hypothesis-jsonschema build strategies from Python sets, whose
order follows string hashing, which Python randomises per process. Derandomized
hypothesis alone therefore does not give the same cases on every run. This
module is run with ``PYTHONHASHSEED=0`` (see ``generated_cases`` in
test_api_fuzz.py): it reads the schema from ``/api/schema/`` through the WSGI
application, generates every case and writes them as JSON; the test process
then sends exactly these cases. Generation needs no database.

Run: ``PYTHONHASHSEED=0 python -m tests.security.fuzz_cases OUTPUT.json``
"""

import copy
import json
import os
import sys
from collections.abc import Mapping

MAX_EXAMPLES = 30
MODES = ("positive", "negative", "grounded")
SCHEMA_URL = "/api/schema/"

# Grounded ids are generated as symbols 1..n and replaced with real ids just
# before the call (test_api_fuzz.GROUNDED): conversations of A, of B, missing;
# templates of A (one per category) and B's utility template; numbers of A and B.
SYMBOLS = {"conversation": 3, "business_number": 2}


def template_symbols() -> int:
    from messaging.models import MessageTemplate

    return len(MessageTemplate.Category.values) + 1


def schema_load(app):
    import schemathesis

    return schemathesis.from_wsgi(
        SCHEMA_URL,
        app,
        generation_config=schemathesis.GenerationConfig(with_security_parameters=False),
    )


def schema_grounded(raw: dict) -> dict:
    """Return ``raw`` with every id drawn from the symbols of real objects."""

    def symbols(n: int) -> list[int]:
        return list(range(1, n + 1))

    grounded = copy.deepcopy(raw)
    for operations in grounded["paths"].values():
        for operation in operations.values():
            for param in operation.get("parameters", []):
                if param["in"] == "path":
                    param["schema"] = {
                        "type": "integer",
                        "enum": symbols(SYMBOLS["conversation"]),
                    }
                elif param["name"] == "business_number":
                    param["schema"] = {
                        "type": "integer",
                        "enum": symbols(SYMBOLS["business_number"]),
                    }
                elif param["name"] == "page":
                    param["schema"] = {"type": "integer", "enum": [1]}
    body = grounded["components"]["schemas"]["MessageSend"]["properties"]
    body["conversation"] = {"type": "integer", "enum": [1, 2]}
    body["template"] = {
        "type": "integer",
        "enum": symbols(template_symbols()),
        "nullable": True,
    }
    body["params"]["maxItems"] = 2
    start = grounded["components"]["schemas"]["ConversationStart"]["properties"]
    start["from_number"] = {
        "type": "integer",
        "enum": symbols(SYMBOLS["business_number"]),
    }
    start["template"] = {"type": "integer", "enum": symbols(template_symbols())}
    start["params"]["maxItems"] = 2
    return grounded


def sendable(case) -> bool:
    """Whether the transport can encode the case (negative data may not be)."""
    from schemathesis.types import NotSet

    for part in (case.path_parameters, case.headers, case.cookies, case.query):
        if part is not None and not isinstance(part, Mapping):
            return False
    if isinstance(case.body, NotSet) or case.body is None:
        return True
    return "json" in (case.media_type or "") or isinstance(case.body, Mapping)


def _plain(value):
    return dict(value) if value is not None else None


def _collect(operation, mode: str, cases: list, counts: dict) -> None:
    """Run hypothesis over one operation and append its sendable cases."""
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import DataGenerationMethod
    from schemathesis.exceptions import SkipTest
    from schemathesis.types import NotSet

    method = (
        DataGenerationMethod.negative
        if mode == "negative"
        else DataGenerationMethod.positive
    )

    @settings(
        derandomize=True,
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(data_generation_method=method))
    def collect(case):
        if not sendable(case):
            counts["unsendable"] += 1
            return
        item = {
            "mode": mode,
            "operation": operation.verbose_name,
            "path_parameters": _plain(case.path_parameters),
            "headers": _plain(case.headers),
            "cookies": _plain(case.cookies),
            "query": _plain(case.query),
            "media_type": case.media_type,
        }
        if not isinstance(case.body, NotSet):
            item["body"] = case.body
        cases.append(item)

    try:
        collect()
    except SkipTest:
        # No parameters and no body (GET /api/usage/): nothing to make invalid.
        assert mode == "negative", operation.verbose_name
        counts["no_negative"].append(operation.verbose_name)


def generate() -> dict:
    """Return every case of every mode and operation, ready for JSON."""
    from django.core.wsgi import get_wsgi_application
    from schemathesis import GenerationConfig, from_dict

    app = get_wsgi_application()
    raw = schema_load(app)
    grounded = from_dict(
        schema_grounded(raw.raw_schema),
        app=app,
        generation_config=GenerationConfig(with_security_parameters=False),
    )
    cases: list[dict] = []
    counts = {"unsendable": 0, "no_negative": []}
    for mode in MODES:
        source = grounded if mode == "grounded" else raw
        for result in source.get_all_operations():
            _collect(result.ok(), mode, cases, counts)
    # Explicit cases: real sends of text and of a template to A's conversation,
    # and a conversation started with a new number, so answers to successful
    # sends are always among the checked ones.
    for operation, body in (
        ("POST /api/messages/", {"conversation": 1, "text": "Fuzzed hello"}),
        ("POST /api/messages/", {"conversation": 1, "template": 1}),
        (
            "POST /api/conversations/",
            {"from_number": 1, "to": "+34 699 11 22 33", "template": 1, "opt_in": True},
        ),
        (
            "POST /api/conversations/",
            {"from_number": 1, "to": "+34 699 11 22 44", "template": 1},
        ),
    ):
        cases.append(
            {
                "mode": "grounded",
                "operation": operation,
                "path_parameters": None,
                "headers": None,
                "cookies": None,
                "query": None,
                "media_type": "application/json",
                "body": body,
            }
        )
    return {"cases": cases, **counts}


def main(output: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    with open(output, "w") as handle:
        json.dump(generate(), handle)


if __name__ == "__main__":
    main(sys.argv[1])
