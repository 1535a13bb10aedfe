"""An agent finds and follows conversations in Chromium: searches, sees what a
template will cost before sending it, and sees a contact's new message (posted
as a signed webhook by the test) arrive in the open thread and the inbox's
unread count rise, without reloading; no CSP violation on the way."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from messaging.services import conversation_assign
from tests import whatsapp
from tests.billing_world import World, rate_card
from tests.e2e.test_csp import RECORD_VIOLATIONS
from tests.e2e.test_portal import login
from tests.factories import MessageTemplateFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def contact_writes(number, *, wa_id, text, name, at):
    payload = whatsapp.inbound_payload(
        phone_number_id=number.phone_number_id,
        wa_id=wa_id,
        wamid=f"wamid.e2e.{wa_id}.{at.timestamp()}",
        at=at,
        text=text,
        name=name,
    )
    assert whatsapp.post(Client(), payload).status_code == 200


@pytest.fixture
def inbox_world(client, settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    now = timezone.now()
    rate_card(
        rates={("Spain", "marketing"): "0.0509", ("Spain", "utility"): "0.0200"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world = World(client, start=now, wa_id="34600111222", tz="Europe/Madrid")
    contact_writes(
        world.number,
        wa_id="34600111222",
        text="Hello, is my order on its way?",
        name="Ana Torres",
        at=now - timedelta(hours=2),
    )
    contact_writes(
        world.number,
        wa_id="34600333444",
        text="I would like a refund please",
        name="Bruno Díaz",
        at=now - timedelta(hours=3),
    )
    from messaging.models import Conversation

    for conversation in Conversation.objects.all():
        conversation_assign(
            conversation=conversation, assignee=world.agent, by=world.agent
        )
    world.conversation = Conversation.objects.get(contact__wa_id="34600111222")
    world.templates["shipped"] = MessageTemplateFactory(
        company=world.company,
        name="order_shipped",
        category="utility",
        body="Hello {{1}}, your order {{2}} has shipped.",
        components=[
            {
                "type": "BODY",
                "example": {
                    "body_text_named_params": [
                        {"param_name": "first_name", "example": "Maria"},
                        {"param_name": "order_id", "example": "A-17"},
                    ]
                },
            }
        ],
    )
    return world


def test_search_cost_preview_and_a_new_message_without_reloading(
    page, live_server, shot, inbox_world
):
    world = inbox_world
    base = live_server.url
    violations = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda msg: (
            violations.append(msg.text)
            if "Content Security Policy" in msg.text
            else None
        ),
    )
    login(page, base, world.agent.email)

    # The inbox opens on "Assigned to me", both conversations unread.
    page.goto(f"{base}/inbox/")
    assert "active" in page.locator(
        "#assigned-tabs a", has_text="Assigned to me"
    ).get_attribute("class")
    assert page.locator(".unread-count").count() == 2
    page.fill("#id_q", "refund")
    page.click("#inbox-filters button[type=submit]")
    rows = page.locator(".inbox-table tbody tr")
    assert rows.count() == 1
    assert "Bruno Díaz" in rows.first.inner_text()
    shot(page, "inbox-search")

    # The thread opens at its newest message; the cost shows before sending.
    page.goto(f"{base}/inbox/{world.conversation.pk}/")
    page.wait_for_selector("#text-cost .cost-line")
    assert "Free-form message: free, the window is open until" in page.inner_text(
        "#text-cost"
    )
    marketing = world.templates["marketing"]
    page.select_option("#template-select", str(marketing.pk))
    page.wait_for_selector("#template-cost .cost-line")
    assert "Marketing template to Spain: €0.0509 on delivery" in page.inner_text(
        "#template-cost"
    )
    utility = world.templates["utility"]
    page.select_option("#template-select", str(utility.pk))
    page.wait_for_function(
        "() => document.querySelector('#template-cost').innerText.includes('Utility')"
    )
    assert "Utility template: free, the window is open until" in page.inner_text(
        "#template-cost"
    )
    assert page.locator(".countdown").inner_text().startswith("Open, closes in")
    shot(page, "conversation-cost-preview")

    # Values are labelled with the template's own names, the preview follows.
    shipped = world.templates["shipped"]
    page.select_option("#template-select", str(shipped.pk))
    fieldset = page.locator(f'.template-params[data-template="{shipped.pk}"]')
    assert "first_name" in fieldset.inner_text()
    assert fieldset.locator(".template-preview").inner_text() == (
        "Hello Maria, your order A-17 has shipped."  # the examples until typed
    )
    page.fill(f"#param-{shipped.pk}-1", "Ana")
    assert fieldset.locator(".template-preview").inner_text() == (
        "Hello Ana, your order A-17 has shipped."
    )
    shot(page, "conversation-template-preview")

    # A new inbound message arrives through the signed webhook: it appears
    # without a reload (the marker set on this document survives).
    page.evaluate("window.__sameDocument = true")
    contact_writes(
        world.number,
        wa_id="34600111222",
        text="Any news about the delivery?",
        name="Ana Torres",
        at=timezone.now(),
    )
    page.wait_for_selector("text=Any news about the delivery?", timeout=15_000)
    assert page.evaluate("window.__sameDocument") is True
    shot(page, "conversation-live-message")

    # The open thread posted its read marker: Ana's row is read, and a new
    # message from Bruno raises his count on the open inbox, without a reload.
    page.goto(f"{base}/inbox/")
    assert page.locator(".unread-count").count() == 1
    page.evaluate("window.__sameDocument = true")
    contact_writes(
        world.number,
        wa_id="34600333444",
        text="Hello again",
        name="Bruno Díaz",
        at=timezone.now(),
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('.unread-count')]"
        ".some(b => b.textContent.trim() === '2')",
        timeout=20_000,
    )
    assert page.evaluate("window.__sameDocument") is True
    shot(page, "inbox-unread-live")
    assert page.evaluate("window.__csp") == []
    assert violations == []


def test_load_older_keeps_the_place_and_the_countdown_runs(
    page, live_server, shot, inbox_world
):
    world = inbox_world
    conversation = world.conversation
    from messaging.models import Message

    now = timezone.now()
    Message.objects.bulk_create(
        [
            Message(
                company=world.company,
                conversation=conversation,
                direction="in",
                type="text",
                body=f"Earlier message {i:02d}",
                wamid=f"wamid.old.{i}",
                provider_timestamp=now - timedelta(days=3, minutes=80 - i),
                status="received",
            )
            for i in range(80)
        ]
    )
    login(page, live_server.url, world.agent.email)
    page.goto(f"{live_server.url}/inbox/{conversation.pk}/")
    # Opens at the newest message: the thread is scrolled to its bottom.
    at_bottom = page.evaluate(
        "() => { const t = document.getElementById('thread');"
        " return t.scrollHeight - t.scrollTop - t.clientHeight < 40; }"
    )
    assert at_bottom
    assert page.locator("text=Earlier message 30").count() == 0
    page.evaluate("document.getElementById('thread').scrollTop = 0")
    first = page.locator(".bubble").first
    first_id = first.get_attribute("id")
    before = page.evaluate(
        f"() => document.getElementById('{first_id}').getBoundingClientRect().top"
    )
    page.click("#load-older")
    page.wait_for_selector("text=Earlier message 30")
    after = page.evaluate(
        f"() => document.getElementById('{first_id}').getBoundingClientRect().top"
    )
    # What was on screen stays where it was; the older page is above it.
    assert abs(after - before) < 60
    shot(page, "conversation-load-older")

    # The countdown is JavaScript's once the page runs: move the page's clock.
    page.clock.install(time=now)
    page.goto(f"{live_server.url}/inbox/{conversation.pk}/")
    text = page.locator(".countdown").inner_text()
    assert text.startswith("Open, closes in 21 h")
    page.clock.fast_forward("21:30:00")
    page.wait_for_function(
        "() => document.querySelector('.countdown').textContent.includes('min')"
        " && !document.querySelector('.countdown').textContent.includes(' h ')"
    )
    assert page.locator(".countdown").inner_text().startswith("Open, closes in ")
