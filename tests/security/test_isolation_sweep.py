"""Tenant isolation, swept from the URL configuration.

Every named route of the portal, the downloads, the inbox and the API is found
by walking ``get_resolver().url_patterns``; nothing is listed by hand except how
each route is protected (``ROUTES``) and where each id parameter comes from
(``PARAM_IDS`` for path parameters, ``BODY_IDS`` for ids in POST bodies). A new
route that is missing from those tables fails ``test_every_route_is_classified``
or ``test_every_id_parameter_is_mapped``: nobody can add a URL and forget it here.

Companies A and B are built the same way (tests/security/conftest.py). Each id
of A is requested by B's users (404, never 200 or 500), A's agents ask for
billing pages and billing's API (403), anonymous visitors are sent to the login page (portal) or
get 401 (API), and A's own users get the page (the positive control that keeps
the 404s honest).
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

import pytest
import time_machine
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path, reverse

from billing.models import MonthlyBudget
from messaging.models import Message
from tests.factories import StaffUserFactory

from .conftest import AFTER, Tenant

pytestmark = pytest.mark.django_db

# --- What is swept ------------------------------------------------------------------

# Prefixes of routes outside this sweep, and why.
SKIPPED_PREFIXES = {
    "admin/": "the admin site: tests/security/test_admin_access.py",
    "i18n/": "the language switch holds no tenant data",
    "accounts/": "django.contrib.auth views (login, logout, password reset)",
    "static/": "static files",
    "media/": "uploaded files",
}
# Named routes outside this sweep, and why.
SKIPPED_NAMES = {
    "whatsapp-webhook": "signed by the provider, not a user: test_webhook_hostile.py",
}


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", as reverse() takes it
    route: str  # the full pattern, e.g. "billing/invoices/<int:pk>/"
    params: tuple[str, ...]


def routes_walk(patterns, prefix: str = "", namespace: str = "", params=()):
    """Yield every URL pattern under ``patterns`` with its full route and params."""
    for pattern in patterns:
        here = prefix + str(pattern.pattern)
        own = tuple(pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = (
                    f"{namespace}:{pattern.namespace}"
                    if namespace
                    else pattern.namespace
                )
            yield from routes_walk(pattern.url_patterns, here, ns, params + own)
        elif isinstance(pattern, URLPattern):
            name = pattern.name and (
                f"{namespace}:{pattern.name}" if namespace else pattern.name
            )
            yield Route(name=name, route=here, params=params + own)


def swept_routes(patterns=None) -> list[Route]:
    """Return the routes this sweep covers (all but SKIPPED_PREFIXES/NAMES)."""
    patterns = get_resolver().url_patterns if patterns is None else patterns
    return [
        r
        for r in routes_walk(patterns)
        if not r.route.startswith(tuple(SKIPPED_PREFIXES))
        and r.name not in SKIPPED_NAMES
    ]


# --- How each route is protected ------------------------------------------------------

PORTAL = "portal"  # company users; anonymous -> login page; staff -> admin site
BILLING = "billing"  # company admins only; agents -> 403
API = "api"  # token; anonymous -> 401
BILLING_API = "billing-api"  # token; company admins only; agents and staff -> 403
TOKEN_KINDS = (API, BILLING_API)
ADMIN_KINDS = (BILLING, BILLING_API)
PUBLIC = "public"  # anyone: the API's own description


@dataclass(frozen=True)
class Spec:
    kind: str
    method: str = "GET"
    # What the owner (A's licensed agent, or A's admin for billing) gets.
    ok: int = 200
    # Whether a sweep request may write (a send): counted and checked.
    sends: bool = False
    # What a portal POST answers with another company's id in its body only:
    # a redirect with the form error, or the form shown again with it.
    refused: int = 302


ROUTES: dict[str, Spec] = {
    "home": Spec(PORTAL),
    "inbox": Spec(PORTAL),
    "conversation": Spec(PORTAL),
    "conversation-send": Spec(PORTAL, "POST", ok=302, sends=True),
    "conversation-older": Spec(PORTAL),
    "conversation-live": Spec(PORTAL),
    "conversation-read": Spec(PORTAL, "POST", ok=302),
    "conversation-assign": Spec(PORTAL, "POST", ok=302),
    "conversation-cost": Spec(PORTAL),
    "conversation-new": Spec(PORTAL),
    "contacts": Spec(PORTAL),
    "contact-import": Spec(BILLING),
    "contact-opt-in": Spec(PORTAL, "POST", ok=302),
    "licensing:licenses": Spec(BILLING),
    "licensing:license-request": Spec(PORTAL),
    "licensing:license-request-approve": Spec(BILLING, "POST", ok=302),
    "licensing:license-request-decline": Spec(BILLING, "POST", ok=302),
    "billing:invoices": Spec(BILLING),
    "billing:invoice": Spec(BILLING),
    "billing:invoice-line": Spec(BILLING),
    "billing:invoice-free": Spec(BILLING),
    "billing:invoice-csv": Spec(BILLING),
    "billing:invoice-pdf": Spec(BILLING),
    "billing:credit-note": Spec(BILLING),
    "billing:credit-note-pdf": Spec(BILLING),
    "billing:usage": Spec(BILLING),
    "billing:budget": Spec(BILLING, "POST", ok=302),
    "billing:reconciliation": Spec(BILLING),
    "billing:pricing": Spec(BILLING),
    "billing:details": Spec(BILLING),
    # The OpenAPI description is public on purpose: it holds no tenant data.
    "api-schema": Spec(PUBLIC),
    "api-docs": Spec(PUBLIC),
    "api-conversation-list": Spec(API),
    "api-conversation-detail": Spec(API),
    "api-conversation-messages": Spec(API),
    "api-message-create": Spec(API, "POST", ok=201, sends=True),
    "api-invoice-list": Spec(BILLING_API),
    "api-invoice-detail": Spec(BILLING_API),
    "api-invoice-line-charges": Spec(BILLING_API),
    "api-invoice-free-messages": Spec(BILLING_API),
    "api-credit-note-list": Spec(BILLING_API),
    "api-credit-note-detail": Spec(BILLING_API),
    "api-usage": Spec(BILLING_API),
}

# Routes that answer a second method, swept as a route of their own.
SECOND_METHODS: dict[str, Spec] = {
    "api-conversation-list": Spec(API, "POST", ok=201, sends=True),
    "conversation-new": Spec(PORTAL, "POST", ok=302, sends=True, refused=200),
}


def specs_of(route: "Route") -> list[Spec]:
    """Every method of ``route`` the sweep requests."""
    return [ROUTES[route.name]] + (
        [SECOND_METHODS[route.name]] if route.name in SECOND_METHODS else []
    )


# Where each kind of id comes from, for one tenant.
OBJECTS: dict[str, Callable[[Tenant], int]] = {
    "conversation": lambda t: t.conversation.pk,
    "invoice": lambda t: t.invoice.pk,
    "usage_line": lambda t: t.usage_line.pk,
    "credit_note": lambda t: t.credit_note.pk,
    "template": lambda t: t.world.templates["utility"].pk,
    "business_number": lambda t: t.world.number.pk,
    "contact": lambda t: t.conversation.contact.pk,
    "license_request": lambda t: t.license_request.pk,
    "agent": lambda t: t.agent.pk,
}

# (route name, path parameter) -> the object whose id it takes.
PARAM_IDS: dict[tuple[str, str], str] = {
    ("conversation", "pk"): "conversation",
    ("conversation-send", "pk"): "conversation",
    ("conversation-older", "pk"): "conversation",
    ("conversation-live", "pk"): "conversation",
    ("conversation-read", "pk"): "conversation",
    ("conversation-assign", "pk"): "conversation",
    ("conversation-cost", "pk"): "conversation",
    ("contact-opt-in", "pk"): "contact",
    ("billing:invoice", "pk"): "invoice",
    ("billing:invoice-line", "pk"): "invoice",
    ("billing:invoice-line", "line_pk"): "usage_line",
    ("billing:invoice-free", "pk"): "invoice",
    ("billing:invoice-csv", "pk"): "invoice",
    ("billing:invoice-pdf", "pk"): "invoice",
    ("billing:credit-note", "pk"): "credit_note",
    ("billing:credit-note-pdf", "pk"): "credit_note",
    ("api-conversation-detail", "pk"): "conversation",
    ("api-conversation-messages", "conversation_id"): "conversation",
    ("licensing:license-request-approve", "pk"): "license_request",
    ("licensing:license-request-decline", "pk"): "license_request",
    ("api-invoice-detail", "invoice_id"): "invoice",
    ("api-invoice-line-charges", "invoice_id"): "invoice",
    ("api-invoice-line-charges", "line_id"): "usage_line",
    ("api-invoice-free-messages", "invoice_id"): "invoice",
    ("api-credit-note-detail", "credit_note_id"): "credit_note",
}

# (route name, body field) -> the object whose id it takes.
BODY_IDS: dict[tuple[str, str], str] = {
    ("conversation-send", "template"): "template",
    ("conversation-assign", "assignee"): "agent",
    ("api-message-create", "conversation"): "conversation",
    ("api-message-create", "template"): "template",
    ("api-conversation-list", "from_number"): "business_number",
    ("api-conversation-list", "template"): "template",
    ("conversation-new", "business_number"): "business_number",
    ("conversation-new", "template"): "template",
    ("contact-opt-in", "business_number"): "business_number",
}

_keys = count(1)


def body_for(name: str, ids: Callable[[str], int]) -> dict | None:
    """The POST body of ``name``: a valid send of the utility template (to a new
    number each time, for a conversation start)."""
    if name == "conversation-new":
        return {
            "idempotency_key": str(uuid.UUID(int=next(_keys))),
            "business_number": ids(BODY_IDS[(name, "business_number")]),
            "to": f"+3469900{next(_keys):04d}",
            "template": ids(BODY_IDS[(name, "template")]),
            "opt_in": "on",
        }
    if name == "contact-opt-in":
        return {"business_number": ids(BODY_IDS[(name, "business_number")])}
    if name == "api-conversation-list":
        return {
            "from_number": ids(BODY_IDS[(name, "from_number")]),
            "to": f"+3469900{next(_keys):04d}",
            "template": ids(BODY_IDS[(name, "template")]),
            "opt_in": True,
            "idempotency_key": f"sweep-{next(_keys)}",
        }
    if name == "conversation-send":
        return {
            "idempotency_key": str(uuid.UUID(int=next(_keys))),
            "text": "",
            "template": ids(BODY_IDS[(name, "template")]),
        }
    if name == "conversation-read":
        return {"up_to": "1"}
    if name == "conversation-assign":
        return {"assignee": ids(BODY_IDS[(name, "assignee")])}
    if name == "billing:budget":
        return {"amount": "100"}
    if name == "api-message-create":
        return {
            "conversation": ids(BODY_IDS[(name, "conversation")]),
            "template": ids(BODY_IDS[(name, "template")]),
            "idempotency_key": f"sweep-{next(_keys)}",
        }
    return None


def unmapped(routes: list[Route]) -> list[str]:
    """Return the id parameters of ``routes`` that PARAM_IDS does not cover."""
    return [
        f"{r.name} ({r.route}): {param}"
        for r in routes
        for param in r.params
        if (r.name, param) not in PARAM_IDS or PARAM_IDS[(r.name, param)] not in OBJECTS
    ]


def unclassified(routes: list[Route]) -> list[str]:
    return [f"{r.name} ({r.route})" for r in routes if r.name not in ROUTES]


def sweepable(routes: list[Route]) -> list[Route]:
    """The routes the tables describe; the guards above report the others."""
    return [r for r in routes if r.name in ROUTES and not unmapped([r])]


# --- The guards ---------------------------------------------------------------------


def test_every_route_is_classified():
    routes = swept_routes()
    assert [r.route for r in routes if not r.name] == [], "name every route"
    assert unclassified(routes) == []
    # No stale entries either: the tables describe exactly the URL configuration.
    names = {r.name for r in routes}
    assert set(ROUTES) - names == set()
    assert {name for name, _ in PARAM_IDS} - names == set()
    assert {name for name, _ in BODY_IDS} - names == set()
    assert set(SECOND_METHODS) - names == set()


def test_every_id_parameter_is_mapped():
    routes = swept_routes()
    assert unmapped(routes) == []
    assert sum(len(r.params) for r in routes) >= 10


def test_the_guards_catch_a_new_route():
    def view(request, pk, export_id):
        return HttpResponse()

    patterns = [
        *get_resolver().url_patterns,
        path("billing/exports/<int:pk>/<uuid:export_id>/", view, name="export"),
    ]

    before, after = swept_routes(), swept_routes(patterns)

    new = [line for line in unmapped(after) if line not in unmapped(before)]
    assert new == [
        "export (billing/exports/<int:pk>/<uuid:export_id>/): pk",
        "export (billing/exports/<int:pk>/<uuid:export_id>/): export_id",
    ]
    new = [line for line in unclassified(after) if line not in unclassified(before)]
    assert new == ["export (billing/exports/<int:pk>/<uuid:export_id>/)"]


# --- The sweep ------------------------------------------------------------------------


class Sweeper:
    """Make the requests, count them and collect every unexpected answer."""

    def __init__(self):
        self.requests = 0
        self.failures: list[str] = []
        self.clients: dict[int | None, Client] = {}

    def client(self, user, spec: Spec, tenant: Tenant | None) -> tuple[Client, dict]:
        """Portal: a logged-in session. API: a token and no session."""
        if spec.kind in TOKEN_KINDS and user is not None:
            return Client(), {"Authorization": f"Token {tenant.token_for(user)}"}
        if user is None:
            return Client(), {}
        if user.pk not in self.clients:
            self.clients[user.pk] = Client()
            self.clients[user.pk].force_login(user)
        return self.clients[user.pk], {}

    def request(
        self,
        who,
        user,
        tenant,
        route: Route,
        ids: Callable[[str], int],
        spec: Spec | None = None,
    ):
        spec = spec or ROUTES[route.name]
        url = reverse(
            route.name,
            kwargs={p: ids(PARAM_IDS[(route.name, p)]) for p in route.params},
        )
        client, headers = self.client(user, spec, tenant)
        body = body_for(route.name, ids) if spec.method == "POST" else None
        self.requests += 1
        try:
            if spec.method == "GET":
                response = client.get(url, headers=headers)
            elif spec.kind == API:
                response = client.post(
                    url,
                    json.dumps(body),
                    content_type="application/json",
                    headers=headers,
                )
            else:
                response = client.post(url, body, headers=headers)
        except Exception as exc:  # a crash is a finding like any other
            self.failures.append(f"{who} {spec.method} {url}: {exc!r}")
            return None
        response.url_requested = f"{spec.method} {url}"
        return response

    def expect(self, who, response, status: int, location: str | None = None):
        if response is None:
            return
        ok = response.status_code == status
        if ok and location is not None:
            ok = response.headers.get("Location", "").startswith(location)
        if not ok:
            self.failures.append(
                f"{who} {response.url_requested}: {response.status_code} "
                f"{response.headers.get('Location', '')} (expected {status} "
                f"{location or ''})"
            )


def _content(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def _mixes(route: Route, a: Tenant, b: Tenant):
    """Yield (label, ids, path_is_foreign): every id of A, one at a time, and all."""
    keys = [PARAM_IDS[(route.name, p)] for p in route.params] + [
        key for (name, _), key in BODY_IDS.items() if name == route.name
    ]
    path_keys = {PARAM_IDS[(route.name, p)] for p in route.params}
    for key in dict.fromkeys(keys):
        yield (
            f"A's {key}",
            lambda k, key=key: OBJECTS[k](a if k == key else b),
            key in path_keys,
        )
    if len(set(keys)) > 1:
        yield "all of A's ids", lambda k: OBJECTS[k](a), bool(path_keys)


def test_company_b_never_reaches_company_a_objects(tenants, capsys):
    a, b = tenants
    a.company.name, b.company.name = "Alpha Imports", "Beta Exports"
    a.company.save()
    b.company.save()
    cs = StaffUserFactory()
    sweep = Sweeper()
    routes = sweepable(swept_routes())
    with_params = [
        (r, spec)
        for r in routes
        for spec in specs_of(r)
        if r.params or spec.method == "POST"
    ]
    sent_before = Message.objects.count()
    expected_sends = 0
    with time_machine.travel(AFTER, tick=False):
        for route, spec in with_params:

            def own(k):
                return OBJECTS[k](a)

            def request(who, user, tenant, route, ids, spec=spec):
                return sweep.request(who, user, tenant, route, ids, spec)

            # Positive control: A's own user gets the page with A's ids.
            owner = a.admin if spec.kind in ADMIN_KINDS else a.agent
            response = request("A's owner", owner, a, route, own)
            sweep.expect("A's owner", response, spec.ok)
            expected_sends += spec.sends
            # A missing id is a 404 for the owner too, not a 500.
            for param in route.params:
                key = PARAM_IDS[(route.name, param)]
                response = request(
                    f"A's owner, no such {key}",
                    owner,
                    a,
                    route,
                    lambda k, key=key: 10**9 if k == key else OBJECTS[k](a),
                )
                sweep.expect(f"A's owner, no such {key}", response, 404)
            # (a) B's admin and B's licensed agent, with A's ids: 404.
            for who, user in (("B's admin", b.admin), ("B's agent", b.agent)):
                if spec.kind in ADMIN_KINDS and user == b.agent:
                    continue
                if not list(_mixes(route, a, b)):
                    # No id to steal: B acts on its own company only (checked below).
                    response = request(who, user, b, route, lambda k: 0)
                    sweep.expect(who, response, spec.ok)
                for label, ids, path_foreign in _mixes(route, a, b):
                    response = request(f"{who}, {label}", user, b, route, ids)
                    # An id of A only in the body: the portal shows the form error.
                    status = (
                        404
                        if path_foreign or spec.kind in TOKEN_KINDS
                        else spec.refused
                    )
                    sweep.expect(f"{who}, {label}", response, status)
            # (b) A's agent on billing routes: 403.
            if spec.kind in ADMIN_KINDS:
                response = request("A's agent", a.agent, a, route, own)
                sweep.expect("A's agent", response, 403)
            # (c) Anonymous: the login page (portal) or 401 (API).
            response = request("anonymous", None, a, route, own)
            if spec.kind in TOKEN_KINDS:
                sweep.expect("anonymous", response, 401)
            else:
                sweep.expect(
                    "anonymous", response, 302, resolve_url(settings.LOGIN_URL)
                )
            # Customer Success staff (no company) work in the admin site.
            response = request("CS staff", cs, a, route, own)
            if spec.kind == API:
                sweep.expect("CS staff", response, 404)
            elif spec.kind == BILLING_API:
                sweep.expect("CS staff", response, 403)
            else:
                sweep.expect("CS staff", response, 302, reverse("admin:index"))

    with capsys.disabled():
        print(
            f"\nisolation sweep (ids): {sweep.requests} URLs swept "
            f"on {len(with_params)} routes"
        )
    assert sweep.failures == []
    # Only the owners' sends went through; B's attempts recorded nothing.
    assert Message.objects.count() == sent_before + expected_sends
    # Only A's admin decided A's license request, if anyone did.
    a.license_request.refresh_from_db()
    assert a.license_request.decided_by in (None, a.admin)
    # Each company's budget was set by its own admin, though both posted one.
    budgets = MonthlyBudget.objects.filter(company__in=[a.company, b.company])
    assert {(x.company_id, x.updated_by_id) for x in budgets} == {
        (a.company.pk, a.admin.pk),
        (b.company.pk, b.admin.pk),
    }
    assert sweep.requests >= 60


def test_routes_without_ids_guard_access_and_show_only_own_data(tenants, capsys):
    a, b = tenants
    a.company.name, b.company.name = "Alpha Imports", "Beta Exports"
    a.company.save()
    b.company.save()
    # Strings that only pages of company A may show: its name and its links.
    markers = {
        "Alpha Imports",
        reverse("conversation", args=[a.conversation.pk]),
        reverse("billing:invoice", args=[a.invoice.pk]),
    }
    sweep = Sweeper()
    routes = [
        r
        for r in sweepable(swept_routes())
        if not r.params and ROUTES[r.name].method == "GET"
    ]
    seen_by_a: set[str] = set()
    with time_machine.travel(AFTER, tick=False):
        for route in routes:
            spec = ROUTES[route.name]

            def own(k):
                return OBJECTS[k](a)

            owner = a.admin if spec.kind in ADMIN_KINDS else a.agent
            response = sweep.request("A's owner", owner, a, route, own)
            sweep.expect("A's owner", response, spec.ok)
            if response is not None and response.status_code == 200:
                page = _content(response)
                seen_by_a |= {m for m in markers if m in page}
            for who, user in (("B's admin", b.admin), ("B's agent", b.agent)):
                if spec.kind in ADMIN_KINDS and user == b.agent:
                    continue
                response = sweep.request(who, user, b, route, own)
                sweep.expect(who, response, 200)
                if response is not None and response.status_code == 200:
                    page = _content(response)
                    leaked = sorted(m for m in markers if m in page)
                    if leaked:
                        sweep.failures.append(f"{who} {route.name} shows {leaked}")
                    # Conversation ids only: an invoice id may equal one of B's.
                    if spec.kind == API and route.name == "api-conversation-list":
                        got = {str(c["id"]) for c in response.json()["results"]}
                        if str(a.conversation.pk) in got:
                            sweep.failures.append(f"{who} lists A's conversation")
                    own_lists = {
                        "api-invoice-list": b.invoice.pk,
                        "api-credit-note-list": b.credit_note.pk,
                    }
                    if route.name in own_lists:
                        got = [x["id"] for x in response.json()["results"]]
                        if got != [own_lists[route.name]]:
                            sweep.failures.append(f"{who} {route.name} lists {got}")
            if spec.kind in ADMIN_KINDS:
                response = sweep.request("A's agent", a.agent, a, route, own)
                sweep.expect("A's agent", response, 403)
            response = sweep.request("anonymous", None, a, route, own)
            if spec.kind in TOKEN_KINDS:
                sweep.expect("anonymous", response, 401)
            elif spec.kind == PUBLIC:
                sweep.expect("anonymous", response, 200)
            else:
                sweep.expect(
                    "anonymous", response, 302, resolve_url(settings.LOGIN_URL)
                )

    with capsys.disabled():
        print(f"\nisolation sweep (no ids): {sweep.requests} URLs swept")
    assert sweep.failures == []
    # The markers are really on A's pages, so their absence on B's means something.
    assert seen_by_a == markers
    assert sweep.requests >= 30


def test_filters_do_not_accept_another_company_s_ids(tenants):
    a, b = tenants
    client = Client()
    client.force_login(b.admin)
    number = a.world.number.pk
    with time_machine.travel(AFTER, tick=False):
        # given B's admin filtering by A's business number
        page = client.get(reverse("inbox"), {"business_number": number})
        api = client.get(
            reverse("api-conversation-list"),
            {"business_number": number},
            headers={"Authorization": f"Token {b.token_for(b.admin)}"},
        )
        own = client.get(
            reverse("api-conversation-list"),
            {"business_number": b.world.number.pk},
            headers={"Authorization": f"Token {b.token_for(b.admin)}"},
        )
    # then the choice is refused, and A's conversation never shows
    assert page.status_code == 200
    html = page.content.decode()
    assert 'aria-invalid="true"' in html
    assert reverse("conversation", args=[a.conversation.pk]) not in html
    assert reverse("conversation", args=[b.conversation.pk]) in html
    assert api.status_code == 400
    assert "business_number" in api.json()
    assert [c["id"] for c in own.json()["results"]] == [b.conversation.pk]
