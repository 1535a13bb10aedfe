"""Two tenants with real traffic and invoices, shared by the security tests."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from rest_framework.authtoken.models import Token

from accounts.models import User
from billing.services import credit_note_issue
from licensing.services import license_request_create
from messaging.services import conversation_assign
from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory, UserFactory

# Traffic in October 2026; the invoice is computed on 1 November.
T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)
# Requests are made a while after the invoice, inside the next month.
AFTER = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


@dataclass
class Tenant:
    """One company with a conversation, messages, a finalized invoice with usage
    lines and a credit note of it."""

    world: World
    admin: User
    agent: User
    unlicensed_agent: User
    invoice: object
    usage_line: object
    license_request: object
    credit_note: object
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def company(self):
        return self.world.company

    @property
    def conversation(self):
        return self.world.conversation

    def token_for(self, user: User) -> str:
        if user.pk not in self.tokens:
            self.tokens[user.pk] = Token.objects.create(user=user).key
        return self.tokens[user.pk]


def tenant_build(client, *, wa_id: str, text: str = "Hi") -> Tenant:
    """Build a company with traffic, a finalized October invoice with usage lines
    and a credit note of it."""
    world = World(client, start=T, wa_id=wa_id, license_price=Decimal("15"))
    with time_machine.travel(T - timedelta(days=30), tick=False):
        admin = CompanyAdminFactory(company=world.company)
        unlicensed = UserFactory(company=world.company)
    for i in range(2):
        world.send_and_deliver("marketing", T + timedelta(minutes=i))
    world.contact_writes(T + timedelta(hours=1))
    world.send_and_deliver("utility", T + timedelta(hours=2))  # free: window open
    world.send_text(T + timedelta(hours=3), text=text)
    # The agent answers it: "assigned to me" is an agent's default inbox view.
    conversation_assign(
        conversation=world.conversation, assignee=world.agent, by=world.agent
    )
    with time_machine.travel(T + timedelta(hours=4), tick=False):
        license_request = license_request_create(user=unlicensed, note="Please")
    invoice = world.finalize(world.invoice(OCT))
    usage_line = invoice.lines.filter(kind="usage").order_by("pk").first()
    assert usage_line is not None, "the tenant's invoice needs a usage line"
    with time_machine.travel(invoice.period_end + timedelta(days=4), tick=False):
        credit_note = credit_note_issue(
            invoice=invoice,
            amounts={usage_line.pk: Decimal("0.01")},
            reason="Goodwill",
            actor=admin,
        )
    return Tenant(
        world=world,
        admin=admin,
        agent=world.agent,
        unlicensed_agent=unlicensed,
        invoice=invoice,
        usage_line=usage_line,
        license_request=license_request,
        credit_note=credit_note,
    )


@pytest.fixture
def _sandbox_statuses_by_hand(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False


@pytest.fixture
def tenants(client, db, _sandbox_statuses_by_hand) -> tuple[Tenant, Tenant]:
    """Companies A and B, built the same way, with different contacts."""
    rate_card(
        rates={
            ("Spain", "marketing"): "0.0615",
            ("Spain", "utility"): "0.0200",
        },
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    a = tenant_build(client, wa_id="34600111222", text="Thanks from A")
    b = tenant_build(client, wa_id="34600333444", text="Thanks from B")
    client.logout()
    return a, b
