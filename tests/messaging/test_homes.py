"""Messaging's homes beyond tests/test_homes.py: the window rules' SQL only in
``windows.py``, and the public names callers import from their old homes still
resolve."""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "messaging"


def _sources() -> list[Path]:
    return [p for p in sorted(APP.rglob("*.py")) if "migrations" not in p.parts]


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(
        ".__init__"
    )


def test_the_window_constants_are_used_only_by_the_rules_and_windows_py():
    """B1's and F2's spans appear in SQL only through messaging/windows.py."""
    constant = re.compile(
        r"CUSTOMER_SERVICE_WINDOW|ENTRY_POINT_(ANSWER_WITHIN|FREE_FOR)"
    )
    users = [
        str(path.relative_to(ROOT))
        for path in _sources()
        if path.name not in {"rules.py", "windows.py"}
        and constant.search(path.read_text())
    ]
    assert users == []


@pytest.mark.parametrize(
    ("module", "name", "home"),
    [
        ("messaging.transports", "TransportError", "messaging.exceptions"),
        ("messaging.webhooks", "PayloadError", "messaging.exceptions"),
        ("messaging.filters", "window_open_q", "messaging.windows"),
        ("messaging.services", "message_send", "messaging.services.sending"),
        ("messaging.services", "webhook_receive", "messaging.services.intake"),
        ("messaging.services", "delivery_process", "messaging.services.intake"),
        ("messaging.services", "delivery_reprocess", "messaging.services.intake"),
        ("messaging.services", "deliveries_retry", "messaging.services.intake"),
        (
            "messaging.services",
            "inbound_messages_record",
            "messaging.services.inbound",
        ),
        (
            "messaging.services",
            "status_updates_record",
            "messaging.services.statuses",
        ),
        (
            "messaging.services",
            "message_delivery_refresh",
            "messaging.services.statuses",
        ),
        ("messaging.services", "status_orphans_link", "messaging.services.statuses"),
        ("messaging.services", "template_render", "messaging.services.sending"),
        (
            "messaging.services",
            "outbound_message_record",
            "messaging.services.sending",
        ),
    ],
)
def test_public_names_resolve_from_where_callers_import_them(module, name, home):
    assert getattr(importlib.import_module(module), name) is getattr(
        importlib.import_module(home), name
    )
