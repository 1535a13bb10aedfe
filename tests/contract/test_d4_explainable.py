"""Contract tests for rule D4 of shared/PRICING_RULES.md: "For any invoice, the
customer can see every charged message behind each usage line, and for any free
template, why it was free", on the portal's pages, in the CSV and in the API."""

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from billing.models import Charge
from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)
AFTER = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def traffic(client):
    """Marketing charged; utility free in the window the contact opened, and
    charged once that window has closed."""
    rate_card(
        rates={("Spain", "marketing"): "0.0615", ("Spain", "utility"): "0.0200"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world = World(client, start=T)
    with time_machine.travel(T - timedelta(days=30), tick=False):
        admin = CompanyAdminFactory(company=world.company)
    charged = [
        world.send_and_deliver("marketing", T + timedelta(minutes=i)) for i in range(3)
    ]
    world.contact_writes(T + timedelta(hours=1))
    free = [
        world.send_and_deliver("utility", T + timedelta(hours=2, minutes=i))
        for i in range(2)
    ]
    # The window opened at T + 1 h closed at T + 25 h.
    charged.append(world.send_and_deliver("utility", T + timedelta(hours=30)))
    invoice = world.invoice(OCT)
    return world, admin, invoice, charged, free


def usage_lines(invoice):
    return list(invoice.lines.filter(kind__in=["usage", "carried_over"]).order_by("pk"))


def billable_ids(invoice) -> set[int]:
    return set(
        Charge.objects.filter(invoice=invoice, billable=True).values_list(
            "pk", flat=True
        )
    )


def portal(admin) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def api(admin) -> Client:
    token = Token.objects.create(user=admin)
    return Client(headers={"Authorization": f"Token {token.key}"})


def assert_one_line_each(behind: dict, invoice):
    """Every billable charge of the invoice is behind exactly one usage line,
    and each line's count of messages is its quantity."""
    every = [pk for pks in behind.values() for pk in pks]
    assert len(every) == len(set(every)), "a message is behind two lines"
    assert set(every) == billable_ids(invoice)
    for line in usage_lines(invoice):
        assert len(behind[line.pk]) == line.quantity


def test_d4_the_traffic_has_charged_and_free_messages(traffic):
    world, admin, invoice, charged, free = traffic
    assert {line.category for line in usage_lines(invoice)} == {"marketing", "utility"}
    assert billable_ids(invoice) == {m.charge.pk for m in charged}
    assert {
        c.message_id for c in Charge.objects.filter(invoice=invoice, billable=False)
    } == {m.pk for m in free}


def test_d4_each_line_page_lists_the_messages_behind_it(traffic):
    world, admin, invoice, charged, free = traffic
    client = portal(admin)
    behind = {}
    with time_machine.travel(AFTER, tick=False):
        for line in usage_lines(invoice):
            response = client.get(
                reverse("billing:invoice-line", args=[invoice.pk, line.pk])
            )
            assert response.status_code == 200
            table = response.context["table"]
            behind[line.pk] = [row.record.pk for row in table.page.object_list]
    assert_one_line_each(behind, invoice)


def test_d4_the_free_page_says_why_each_template_was_free(traffic):
    world, admin, invoice, charged, free = traffic
    with time_machine.travel(AFTER, tick=False):
        response = portal(admin).get(reverse("billing:invoice-free", args=[invoice.pk]))
    assert response.status_code == 200
    rows = list(response.context["table"].page.object_list)
    assert {row.record.message_id for row in rows} == {m.pk for m in free}
    page = response.content.decode()
    # The contact wrote at 10:00 (UTC, the company's zone): its window made them free.
    assert page.count("while the window opened by the contact") == len(free)
    assert "2026-10-06 10:00" in page


def test_d4_the_csv_lists_every_charged_message_once(traffic):
    world, admin, invoice, charged, free = traffic
    with time_machine.travel(AFTER, tick=False):
        response = portal(admin).get(reverse("billing:invoice-csv", args=[invoice.pk]))
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert sorted(row["wamid"] for row in rows) == sorted(m.wamid for m in charged)
    by_line = {
        (line.category, f"{line.unit_price:.4f}"): line.quantity
        for line in usage_lines(invoice)
    }
    counts = {}
    for row in rows:
        key = (row["category"], row["rate"])
        counts[key] = counts.get(key, 0) + 1
    assert counts == by_line


def test_d4_the_api_lists_the_messages_behind_each_usage_line(traffic):
    world, admin, invoice, charged, free = traffic
    client = api(admin)
    behind, wamids = {}, []
    with time_machine.travel(AFTER, tick=False):
        detail = client.get(reverse("api-invoice-detail", args=[invoice.pk]))
        assert detail.status_code == 200
        lines = [line for line in detail.json()["lines"] if line["kind"] == "usage"]
        assert {line["id"] for line in lines} == {
            line.pk for line in usage_lines(invoice)
        }
        for line in lines:
            response = client.get(
                reverse("api-invoice-line-charges", args=[invoice.pk, line["id"]])
            )
            assert response.status_code == 200
            results = response.json()["results"]
            assert response.json()["count"] == len(results)
            assert {r["category"] for r in results} == {line["category"]}
            assert {r["rate"] for r in results} == {line["unit_price"][:-2]}
            assert all(r["delivered_at"].endswith("Z") for r in results)
            behind[line["id"]] = [r["id"] for r in results]
            wamids += [r["wamid"] for r in results]
    assert_one_line_each(behind, invoice)
    assert sorted(wamids) == sorted(m.wamid for m in charged)


def test_d4_the_api_says_why_each_free_template_was_free(traffic):
    world, admin, invoice, charged, free = traffic
    with time_machine.travel(AFTER, tick=False):
        response = api(admin).get(
            reverse("api-invoice-free-messages", args=[invoice.pk])
        )
    assert response.status_code == 200
    results = response.json()["results"]
    assert {r["wamid"] for r in results} == {m.wamid for m in free}
    for result in results:
        assert result["billable"] is False
        assert (
            "window opened by the contact's message at 2026-10-06 10:00"
            in (result["reason"])
        )


def test_d4_free_reasons_are_in_the_company_zone(client):
    rate_card(
        rates={("Spain", "utility"): "0.0200"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world = World(client, start=T, tz="Europe/Madrid")
    with time_machine.travel(T - timedelta(days=30), tick=False):
        admin = CompanyAdminFactory(company=world.company)
    world.contact_writes(T + timedelta(hours=1))  # 12:00 in Madrid (CEST)
    world.send_and_deliver("utility", T + timedelta(hours=2))
    invoice = world.invoice(OCT)
    with time_machine.travel(AFTER, tick=False):
        response = api(admin).get(
            reverse("api-invoice-free-messages", args=[invoice.pk])
        )
    [result] = response.json()["results"]
    assert (
        "window opened by the contact's message at 2026-10-06 12:00" in result["reason"]
    )
