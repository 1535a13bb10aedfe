"""Response headers that keep pages out of caches and scripts out of pages.

Billing pages and downloads (invoices, their PDF and CSV, the month so far,
pricing, reconciliation, licenses and their fees) say ``Cache-Control: private,
no-store``: no shared proxy or browser cache keeps a copy. The routes are taken
from the URL configuration through the isolation sweep's tables, so a new
billing page is checked without touching this file.
"""

import re
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils.cache import get_max_age

from .conftest import AFTER
from .test_isolation_sweep import (
    BILLING,
    OBJECTS,
    PARAM_IDS,
    ROUTES,
    sweepable,
    swept_routes,
)

pytestmark = pytest.mark.django_db


def _cache_directives(response) -> set[str]:
    return {
        part.strip().lower()
        for part in response.get("Cache-Control", "").split(",")
        if part.strip()
    }


def _billing_get_routes():
    return [
        r
        for r in sweepable(swept_routes())
        if ROUTES[r.name].kind == BILLING and ROUTES[r.name].method == "GET"
    ]


def test_every_billing_page_and_download_is_private_and_not_stored(tenants):
    a, _ = tenants
    client = Client()
    client.force_login(a.admin)
    routes = _billing_get_routes()
    names = {r.name for r in routes}
    assert {
        "billing:invoices",
        "billing:invoice",
        "billing:invoice-line",
        "billing:invoice-free",
        "billing:invoice-csv",
        "billing:invoice-pdf",
        "billing:credit-note",
        "billing:credit-note-pdf",
        "billing:usage",
        "billing:reconciliation",
        "billing:pricing",
        "licensing:licenses",
    } <= names
    failures = []
    with time_machine.travel(AFTER, tick=False):
        for route in routes:
            url = reverse(
                route.name,
                kwargs={
                    p: OBJECTS[PARAM_IDS[(route.name, p)]](a) for p in route.params
                },
            )
            response = client.get(url)
            directives = _cache_directives(response)
            if response.status_code != 200 or not {"private", "no-store"} <= directives:
                failures.append(
                    f"{url}: {response.status_code} "
                    f"Cache-Control: {response.get('Cache-Control')!r}"
                )
            elif get_max_age(response) not in (None, 0):
                failures.append(f"{url}: max-age {get_max_age(response)}")
    assert failures == []


def test_the_admin_invoice_pages_are_not_stored_either(tenants, cs_client):
    a, _ = tenants
    response = cs_client.get(
        reverse("admin:billing_invoice_change", args=[a.invoice.pk])
    )
    assert response.status_code == 200
    assert {"private", "no-store"} <= _cache_directives(response)


# --- Content-Security-Policy ------------------------------------------------------

# Every response: nothing but this site's own scripts, styles, frames and forms.
REQUIRED_DIRECTIVES = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
UNSAFE = {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "http:", "https:"}


def _policy(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.url_requested}"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def _get(client, url, **kwargs):
    response = client.get(url, **kwargs)
    response.url_requested = url
    return response


def _responses(tenants, cs_user):
    a, _ = tenants
    admin, agent, anonymous, staff = Client(), Client(), Client(), Client()
    admin.force_login(a.admin)
    agent.force_login(a.agent)
    staff.force_login(cs_user)
    token = {"Authorization": f"Token {a.token_for(a.agent)}"}
    with time_machine.travel(AFTER, tick=False):
        return {
            "login page": _get(anonymous, reverse("login")),
            "invoice page": _get(
                admin, reverse("billing:invoice", args=[a.invoice.pk])
            ),
            "usage page": _get(admin, reverse("billing:usage")),
            "inbox": _get(agent, reverse("inbox")),
            "conversation": _get(
                agent, reverse("conversation", args=[a.conversation.pk])
            ),
            "admin index": _get(staff, reverse("admin:index")),
            "admin invoice": _get(
                staff, reverse("admin:billing_invoice_change", args=[a.invoice.pk])
            ),
            "API list (JSON)": _get(
                Client(), reverse("api-conversation-list"), headers=token
            ),
            "API error (401)": _get(Client(), reverse("api-conversation-list")),
        }


def test_every_kind_of_response_carries_the_content_security_policy(tenants, cs_user):
    failures = []
    for what, response in _responses(tenants, cs_user).items():
        if response.status_code not in (200, 401):
            failures.append(f"{what}: status {response.status_code}")
            continue
        policy = _policy(response)
        for name, sources in REQUIRED_DIRECTIVES.items():
            if policy.get(name) != sources:
                failures.append(f"{what}: {name} {policy.get(name)} != {sources}")
        for name, sources in policy.items():
            if name.startswith(("script-src", "style-src", "default-src")) and (
                UNSAFE & set(sources)
            ):
                failures.append(f"{what}: {name} allows {UNSAFE & set(sources)}")
    assert failures == []


def test_the_budget_bar_width_is_set_by_a_nonced_style_element(client, tenants):
    """The one computed style of the portal: its <style> carries this response's
    nonce, and style attributes are not needed."""
    from billing.services import budget_set

    a, _ = tenants
    budget_set(company=a.company, amount=Decimal("1"), actor=None)
    client.force_login(a.admin)
    with time_machine.travel(AFTER, tick=False):
        response = _get(client, reverse("billing:usage"))
    page = response.content.decode()
    nonces = re.findall(r"'nonce-([^']+)'", " ".join(_policy(response)["style-src"]))
    assert len(nonces) == 1
    assert f'<style nonce="{nonces[0]}">' in page
    assert 'data-testid="budget-bar"' in page
    assert " style=" not in page


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>")
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
# Rendered by WeasyPrint on the server, never served to a browser.
NOT_SERVED = {"billing/invoice_pdf.html"}


def _sources():
    root = Path(settings.BASE_DIR)
    for base in (root / "templates", *(root / app / "templates" for app in APPS)):
        for path in sorted(base.rglob("*.html")):
            name = path.relative_to(base).as_posix()
            if name not in NOT_SERVED:
                yield f"{path.relative_to(root)}", path.read_text()
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield f"{path.relative_to(root)}", path.read_text()


APPS = ("accounts", "licensing", "messaging", "billing")


def test_no_served_template_or_admin_html_has_inline_script_or_style():
    """The policy allows no inline script, event handler or style attribute: a
    template that adds one fails here instead of failing silently in a browser."""
    found = []
    for name, text in _sources():
        for pattern, what in (
            (INLINE_SCRIPT, "inline <script>"),
            (INLINE_HANDLER, "event handler attribute"),
            (STYLE_ATTRIBUTE, "style attribute"),
        ):
            if name.endswith(".py") and pattern is not STYLE_ATTRIBUTE:
                continue
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{name}:{line}: {what}")
    assert not found, "\n".join(found)


def test_the_admin_loads_the_stylesheet_that_replaces_style_attributes(cs_client):
    page = cs_client.get(reverse("admin:index")).content.decode()
    assert "/static/css/admin.css" in page
    assert "WhatsApp add-on · Customer Success" in page  # base_site.html still used
