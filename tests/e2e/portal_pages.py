"""Every page of the portal, as the user who sees it, for the e2e sweeps
(sideways scroll, accessibility, keyboard).

PAGES maps each URL name of the URL conf to how it is opened; NOT_PAGES names
the URL names that answer no HTML page of their own, and why. A URL added to
the URL conf without an entry in either makes
test_every_portal_url_is_in_the_catalogue fail, naming it. ERROR_PAGES are the
pages that no URL name leads to (404, 403, 500, 503, the login lockout).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth.tokens import default_token_generator
from django.template.loader import render_to_string
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import override

from billing.models import InvoiceLine, PricingDisagreement
from billing.services import budget_set, credit_note_issue, disagreements_review
from licensing.services.requests import license_request_create
from messaging.services import conversation_assign
from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory, UserFactory

PASSWORD = "pw"
T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)

# URL names that are not a page a person opens (POST-only actions, downloads,
# JSON, the provider's webhook) or that belong to the Customer Success admin.
NOT_PAGES = {
    "logout": "POST only: the top bar's button",
    "set_language": "POST only: the top bar's language picker",
    "billing:budget": "POST only: the budget form of the usage page",
    "billing:invoice-csv": "a CSV download",
    "billing:invoice-pdf": "a PDF download",
    "billing:credit-note-pdf": "a PDF download",
    "licensing:license-request-approve": "POST only: a button of the licenses page",
    "licensing:license-request-decline": "POST only: a button of the licenses page",
    "conversation-send": "POST only: the composer of a conversation",
    "conversation-read": "POST only: the thread marks itself read",
    "conversation-assign": "POST only: the thread's assignment form",
    "conversation-older": "an htmx fragment the thread prepends (the thread's own ?before= page without JavaScript)",
    "conversation-live": "an htmx fragment the thread polls",
    "conversation-cost": "an htmx fragment of the composer (the cost preview)",
    "contact-opt-in": "POST only: a button of the contacts page",
    "whatsapp-webhook": "the provider's webhook",
    "api-schema": "the OpenAPI schema (YAML or JSON)",
}
# Every /api/ URL but the HTML endpoint list answers JSON.
JSON_PREFIX = "api/"


def portal_url_names() -> dict[str, str]:
    """{URL name: route} of every named URL of the URL conf but the admin's."""
    found = {}

    def walk(patterns, prefix="", namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace
                if ns == "admin":
                    continue
                walk(
                    p.url_patterns,
                    prefix + str(p.pattern),
                    f"{namespace}:{ns}" if namespace and ns else ns or namespace,
                )
            elif isinstance(p, URLPattern):
                name = p.name and (f"{namespace}:{p.name}" if namespace else p.name)
                found[name or f"(unnamed) {prefix}{p.pattern}"] = prefix + str(
                    p.pattern
                )

    walk(get_resolver().url_patterns)
    return found


@dataclass
class PortalWorld:
    """One company with something on every page: a finalized invoice with a
    license line, a usage line, a free message, a pricing disagreement and a
    credit note; an open conversation; a budget; a pending license request."""

    world: World
    invoice: object
    usage_line: InvoiceLine
    credit_note: object
    admin: object
    agent: object
    reader: object
    users: dict

    def reset_link(self) -> str:
        """A valid link to set the reader's password (the token covers the
        last login, which logging in through the browser changed)."""
        self.reader.refresh_from_db()
        uid = urlsafe_base64_encode(force_bytes(self.reader.pk))
        token = default_token_generator.make_token(self.reader)
        return f"/accounts/reset/{uid}/{token}/"


def portal_world(client, settings) -> PortalWorld:
    # Statuses come from this world only (the sandbox would report its own).
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    rate_card(
        rates={("Spain", "marketing"): "0.0615"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world = World(
        client, start=T, tax_rate=Decimal("0.21"), license_price=Decimal("15")
    )
    world.company.name = "Acme Iberia Telecomunicaciones S.L."
    world.company.save(update_fields=["name"])
    world.contact_writes(T - timedelta(minutes=5))
    world.send_and_deliver("utility", T)  # free: inside the window
    for i in range(3):
        world.send_and_deliver("marketing", T + timedelta(minutes=i + 1))
    reported_free = world.send_template("marketing", T + timedelta(minutes=9))
    world.deliver(
        reported_free,
        pricing={
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_customer_service",
            "category": "marketing",
        },
    )
    draft = world.invoice(date(2026, 10, 1))
    disagreements_review(
        disagreements=PricingDisagreement.objects.filter(invoice=draft),
        actor=None,
        note="The provider counted it free; we charge marketing templates.",
    )
    invoice = world.finalize(draft)
    usage_line = invoice.lines.filter(kind=InvoiceLine.Kind.USAGE).first()
    credit_note = credit_note_issue(
        invoice=invoice,
        amounts={usage_line.pk: Decimal("0.06")},
        reason="One marketing template was sent twice by mistake",
        actor=None,
    )
    # The contact writes today: the window is open, the composer shows.
    world.contact_writes(timezone.now() - timedelta(minutes=1))
    admin = CompanyAdminFactory(
        company=world.company,
        email="ana.maria.fernandez@acme-iberia.example",
        full_name="Ana María Fernández",
    )
    reader = UserFactory(
        company=world.company,
        email="elena.rodriguez@acme-iberia.example",
        full_name="Elena Rodríguez",
    )
    budget_set(company=world.company, amount=Decimal("30"), actor=None)
    license_request_create(user=reader, note="I answer the Madrid customers")
    agent = world.agent
    # The agent's inbox opens on "assigned to me": the conversation is theirs.
    conversation_assign(conversation=world.conversation, assignee=agent, by=admin)
    return PortalWorld(
        world=world,
        invoice=invoice,
        usage_line=usage_line,
        credit_note=credit_note,
        admin=admin,
        agent=agent,
        reader=reader,
        users={"admin": admin, "agent": agent, "reader": reader, "anonymous": None},
    )


@dataclass(frozen=True)
class Page:
    label: str  # names the screenshot too
    who: str  # admin, agent (licensed), reader (read-only agent) or anonymous
    path: Callable[[PortalWorld], str] | None = None
    status: int = 200
    # For pages no GET of a path shows: opens the page itself.
    visit: Callable | None = None
    # What the page must show for the sweep to mean something (CSS selector).
    shows: str | None = None


def _standalone(template: str, status: int):
    """The 500 and 503 pages are rendered without a request (config.views):
    the browser gets exactly that HTML, served from the live server's origin so
    its stylesheets load."""

    def visit(page, base, pw, language):
        with override(language):
            html = render_to_string(template, {"LANGUAGE_CODE": language})
        url = f"{base}/__{status}__/"
        page.route(
            url,
            lambda route: route.fulfill(
                status=status, body=html, content_type="text/html; charset=utf-8"
            ),
        )
        response = page.goto(url)
        page.unroute(url)
        return response

    return visit


def _locked_out(page, base, pw, language):
    """The login page after too many failed attempts (django-axes)."""
    from django.conf import settings

    response = None
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "locked.out@acme-iberia.example")
        page.fill("#id_password", "not-the-password")
        with page.expect_navigation() as navigation:
            page.click("button[type=submit]")
        response = navigation.value
    return response


# url name -> the pages it shows (a URL may show different pages to different users)
PAGES: dict[str, list[Page]] = {
    "home": [
        Page("home-admin", "admin", lambda w: "/"),
        Page("home-reader", "reader", lambda w: "/"),
    ],
    "login": [Page("login", "anonymous", lambda w: "/accounts/login/")],
    "password_change": [
        Page("password-change", "admin", lambda w: "/accounts/password_change/")
    ],
    "password_change_done": [
        Page(
            "password-change-done", "admin", lambda w: "/accounts/password_change/done/"
        )
    ],
    "password_reset": [
        Page("password-reset", "anonymous", lambda w: "/accounts/password_reset/")
    ],
    "password_reset_done": [
        Page(
            "password-reset-done",
            "anonymous",
            lambda w: "/accounts/password_reset/done/",
        )
    ],
    "password_reset_confirm": [
        Page(
            "password-reset-confirm",
            "anonymous",
            lambda w: w.reset_link(),
            shows="input[type=password]",
        )
    ],
    "password_reset_complete": [
        Page("password-reset-complete", "anonymous", lambda w: "/accounts/reset/done/")
    ],
    "api-docs": [Page("api-docs", "admin", lambda w: "/api/schema/docs/")],
    "inbox": [
        Page("inbox-agent", "agent", lambda w: "/inbox/"),
        Page("inbox-reader", "reader", lambda w: "/inbox/"),
    ],
    "conversation": [
        Page(
            "conversation-agent",
            "agent",
            lambda w: f"/inbox/{w.world.conversation.pk}/",
            shows="#text-form textarea",
        ),
        Page(
            "conversation-reader",
            "reader",
            lambda w: f"/inbox/{w.world.conversation.pk}/",
        ),
    ],
    "conversation-new": [
        Page(
            "conversation-new",
            "agent",
            lambda w: "/inbox/new/",
            shows="input[type=tel]",
        )
    ],
    "contacts": [
        Page("contacts-agent", "agent", lambda w: "/contacts/"),
        Page("contacts-admin", "admin", lambda w: "/contacts/"),
    ],
    "contact-import": [Page("contact-import", "admin", lambda w: "/contacts/import/")],
    "billing:details": [
        Page("billing-details", "admin", lambda w: "/billing/details/")
    ],
    "billing:invoices": [
        Page("invoices", "admin", lambda w: "/billing/invoices/"),
        Page(
            "invoices-filtered-empty",
            "admin",
            lambda w: "/billing/invoices/?month=2025-01&status=",
        ),
    ],
    "billing:invoice": [
        Page(
            "invoice",
            "admin",
            lambda w: f"/billing/invoices/{w.invoice.pk}/",
            shows="[data-testid=credit-notes] td",
        )
    ],
    "billing:invoice-line": [
        Page(
            "invoice-line-charges",
            "admin",
            lambda w: f"/billing/invoices/{w.invoice.pk}/lines/{w.usage_line.pk}/",
        )
    ],
    "billing:invoice-free": [
        Page(
            "invoice-free-messages",
            "admin",
            lambda w: f"/billing/invoices/{w.invoice.pk}/free/",
        )
    ],
    "billing:credit-note": [
        Page(
            "credit-note",
            "admin",
            lambda w: f"/billing/credit-notes/{w.credit_note.pk}/",
        )
    ],
    "billing:usage": [
        Page(
            "usage",
            "admin",
            lambda w: "/billing/usage/",
            shows="[data-testid=budget-bar]",
        )
    ],
    "billing:reconciliation": [
        Page(
            "reconciliation",
            "admin",
            lambda w: "/billing/reconciliation/?month=2026-10",
            shows="[data-testid=reconciliation-months] td[data-label]",
        )
    ],
    "billing:pricing": [Page("pricing", "admin", lambda w: "/billing/pricing/")],
    "licensing:licenses": [
        Page("licenses", "admin", lambda w: "/licenses/", shows="#license-requests")
    ],
    "licensing:license-request": [
        Page("license-request", "reader", lambda w: "/licenses/request/")
    ],
}

ERROR_PAGES = [
    Page("error-404", "admin", lambda w: "/no-such-page/", status=404),
    Page("error-404-anonymous", "anonymous", lambda w: "/no-such-page/", status=404),
    Page("error-403-billing", "reader", lambda w: "/billing/invoices/", status=403),
    Page("error-403-licenses", "reader", lambda w: "/licenses/", status=403),
    Page("error-500", "anonymous", visit=_standalone("500.html", 500), status=500),
    Page("error-503", "anonymous", visit=_standalone("503.html", 503), status=503),
    Page("locked-out", "anonymous", visit=_locked_out, status=429),
]


def all_pages() -> list[Page]:
    return [p for pages in PAGES.values() for p in pages] + ERROR_PAGES


def login(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def open_page(page, base: str, pw: PortalWorld, entry: Page, language: str):
    """Opens the page and checks it answered what it should."""
    if entry.visit is not None:
        response = entry.visit(page, base, pw, language)
    else:
        response = page.goto(base + entry.path(pw))
    assert response is not None and response.status == entry.status, (
        entry.label,
        response and response.status,
        page.url,
    )
    if entry.shows:
        assert page.locator(entry.shows).count(), (entry.label, entry.shows)
    return response
