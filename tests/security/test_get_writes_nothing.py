"""A GET never writes or locks, swept from the URL configuration.

Every GET route of the isolation sweep (``ROUTES`` and ``SECOND_METHODS`` of
``test_isolation_sweep``: a new route is classified there or that sweep fails)
is requested by its owner, A's admin or A's licensed agent, with A's ids; every
statement it runs is a SELECT without FOR UPDATE / FOR NO KEY UPDATE (savepoints
aside). Pages that must stay quick at real traffic read what the workers keep
up to date (the month so far, the composer's cost preview) instead of deriving
it on the request.
"""

from datetime import date

import pytest
import time_machine
from django.contrib import admin
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Market
from billing.selectors import markets_of_numbers
from billing.services import volume_tiers_set
from tests.factories import StaffUserFactory

from .conftest import AFTER
from .test_isolation_sweep import (
    ADMIN_KINDS,
    OBJECTS,
    Sweeper,
    specs_of,
    sweepable,
    swept_routes,
)

pytestmark = pytest.mark.django_db


def _writes_or_locks(sql: str) -> bool:
    """Whether a statement may write or lock: anything but a SELECT (or a
    PostgreSQL server-side cursor over one: ``QuerySet.iterator()``)."""
    upper = sql.lstrip().upper()
    if upper.startswith("DECLARE ") and " CURSOR FOR SELECT " in upper:
        upper = upper[upper.index(" CURSOR FOR ") + len(" CURSOR FOR ") :]
    return not upper.startswith("SELECT") or any(
        lock in upper for lock in ("FOR UPDATE", "FOR NO KEY UPDATE", "FOR SHARE")
    )


def _writes(queries) -> list[str]:
    """The statements of a ``CaptureQueriesContext`` that may write or lock,
    savepoints aside (the test client's transaction)."""
    statements = [q["sql"].lstrip() for q in queries.captured_queries]
    return [
        sql
        for sql in statements
        if not sql.upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
        and _writes_or_locks(sql)
    ]


def _gets():
    return [
        (route, spec)
        for route in sweepable(swept_routes())
        for spec in specs_of(route)
        if spec.method == "GET"
    ]


def test_the_sweep_covers_every_page_and_read_of_the_api():
    names = {route.name for route, _ in _gets()}
    assert {
        "billing:usage",
        "billing:invoice-pdf",
        "conversation-cost",
        "inbox",
        "api-usage",
        "api-invoice-list",
    } <= names
    assert len(names) >= 30


def test_no_get_writes_or_locks(tenants):
    a, _b = tenants
    sweep = Sweeper()
    findings = []
    read = set()  # routes whose statements were seen (the capture works)
    with time_machine.travel(AFTER, tick=False):
        for route, spec in _gets():
            owner = a.admin if spec.kind in ADMIN_KINDS else a.agent
            # The session and the token exist before: logging in is a write.
            sweep.client(owner, spec, a)
            with CaptureQueriesContext(connection) as queries:
                response = sweep.request(
                    "A's owner", owner, a, route, lambda k: OBJECTS[k](a), spec
                )
            sweep.expect("A's owner", response, spec.ok)
            if queries.captured_queries:
                read.add(route.name)
            findings += [f"GET {route.name}: {sql[:160]}" for sql in _writes(queries)]
    assert sweep.failures == []
    assert findings == []
    # Every route but the API's own description reads the database.
    assert {route.name for route, _ in _gets()} - read <= {"api-schema", "api-docs"}


def test_the_composer_cost_preview_with_volume_tiers_writes_nothing(tenants):
    # The sweep's GET of the cost preview names no template (an empty answer):
    # here with one, in a month with volume tiers (the tier position path).
    a, _b = tenants
    wa_id = a.conversation.contact.wa_id
    with time_machine.travel(AFTER, tick=False):
        market = Market.objects.get(
            name=markets_of_numbers(wa_ids=[wa_id], at=AFTER)[wa_id]
        )
        volume_tiers_set(
            company=a.company,
            market=market,
            category="authentication",
            effective_from=date(2026, 11, 1),
            tiers=[(1, "0.0100")],
            actor=None,
        )
    client = Client()
    client.force_login(a.agent)
    url = reverse("conversation-cost", args=[a.conversation.pk])
    with (
        time_machine.travel(AFTER, tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        response = client.get(url, {"template": a.world.templates["authentication"].pk})
    assert response.status_code == 200
    assert "0.0100" in response.content.decode()
    assert any(
        q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries
    )
    assert _writes(queries) == []


def test_no_admin_page_writes_or_locks(tenants):
    """Customer Success's pages too: every registered model's list, its add form
    and one object's page, opened by a superuser (every permission), with the
    tenants' data in the tables."""
    superuser = StaffUserFactory(is_superuser=True)
    client = Client()
    client.force_login(superuser)
    request = RequestFactory().get("/admin/")
    request.user = superuser
    findings, opened = [], 0
    with time_machine.travel(AFTER, tick=False):
        for model, model_admin in admin.site._registry.items():
            meta = model._meta
            urls = [reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")]
            if model_admin.has_add_permission(request):
                urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
            first = model._default_manager.order_by("pk").first()
            if first is not None:
                urls.append(
                    reverse(
                        f"admin:{meta.app_label}_{meta.model_name}_change",
                        args=[first.pk],
                    )
                )
            for url in urls:
                with CaptureQueriesContext(connection) as queries:
                    response = client.get(url)
                opened += 1
                if response.status_code != 200:
                    findings.append(f"GET {url}: {response.status_code}")
                findings += [f"GET {url}: {sql[:160]}" for sql in _writes(queries)]
    assert findings == []
    assert opened >= 40
