"""What the billing admin tests share: the dates, a company with delivered
marketing templates and its October invoice, and posting an admin action."""

from datetime import UTC, date, datetime, timedelta
from itertools import count

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Invoice
from billing.services import invoice_compute, invoice_finalize
from tests.billing_world import World
from tests.factories import CompanyFactory

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)
NOV = date(2026, 11, 1)
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)  # October has ended everywhere
INVOICES = reverse("admin:billing_invoice_changelist")
_wa_ids = count(1)


def world(rates, *, marketing: int = 4, **kw) -> World:
    world = World(Client(), start=T, wa_id=f"346001{next(_wa_ids):05d}", **kw)
    for i in range(marketing):
        world.send_and_deliver("marketing", T + timedelta(hours=i))
    return world


def draft(world: World) -> Invoice:
    return world.invoice(OCT, at=NOW)


def finalized(world: World) -> Invoice:
    return invoice_finalize(invoice=draft(world))


def messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def action(client, action, invoices, **data):
    return client.post(
        INVOICES,
        {"action": action, "_selected_action": [i.pk for i in invoices], **data},
        follow=True,
    )


def empty_invoices(n: int) -> list[Invoice]:
    return [invoice_compute(company=CompanyFactory(), month=OCT) for _ in range(n)]


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)
