"""The portal from the keyboard alone, in Chromium: the skip link, the invoice
filter form and the inbox composer (free text and a template with values), each
reached with Tab, filled by typing and submitted with Enter; every element the
focus stops on shows that it has it."""

from datetime import date

import pytest
from playwright.sync_api import expect

from billing.selectors import invoice_customer_status
from messaging.models import Message
from tests.e2e.portal_pages import login, portal_world
from tests.factories import MessageTemplateFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# A month field's calendar button has the focus inside the field's own shadow
# tree, where no computed style reaches: app.css rings it (see the screenshot).
FOCUS_SHOWN = """() => {
  const e = document.activeElement;
  if (e.matches("input[type=month]") && !e.matches(":focus")) return true;
  const s = getComputedStyle(e);
  return s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
}"""
FOCUSED = """() => {
  const e = document.activeElement;
  return e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + " " + (e.innerText || e.value || "").trim().slice(0, 40);
}"""


def tab_to(page, selector: str, limit: int = 60) -> list[str]:
    """Presses Tab until ``selector`` has the focus; every stop on the way must
    show its focus. Returns the stops."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUSED)
        stops.append(stop)
        assert page.evaluate(FOCUS_SHOWN), f"no visible focus on {stop}"
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return stops
    raise AssertionError(f"Tab never reached {selector}: {stops}")


def choose_with_arrows(page, value: str, limit: int = 20) -> None:
    """Changes the focused <select> with the arrow keys until it holds ``value``."""
    for _ in range(limit):
        if page.evaluate("() => document.activeElement.value") == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no option {value!r} below the current one")


def test_the_invoice_filter_works_from_the_keyboard(
    page, live_server, client, settings, shot
):
    pw = portal_world(client, settings)
    pw.world.invoice(date(2026, 11, 1))  # a November draft, filtered out below
    base = live_server.url
    login(page, base, pw.admin.email)
    page.goto(f"{base}/billing/invoices/")
    assert page.locator("main table tbody tr").count() == 2

    # The first Tab stop skips the top bar.
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED).startswith("a Skip to the content")
    assert page.evaluate(FOCUS_SHOWN)
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"

    stops = tab_to(page, "#id_month")
    assert not any("Log out" in s for s in stops), stops  # the bar was skipped
    # The month field has two parts: Tab moves from the month to the year.
    page.keyboard.type("Oct")
    page.keyboard.press("Tab")
    page.keyboard.type("2026")
    assert page.input_value("#id_month") == "2026-10"
    tab_to(page, "#id_status", limit=3)  # past the field's calendar button
    # The filter offers the statuses a customer reads (open, overdue, paid…).
    status = invoice_customer_status(pw.invoice)
    choose_with_arrows(page, status)
    tab_to(page, "form button[type=submit]", limit=2)
    shot(page, "keyboard-invoice-filter")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "month=2026-10" in page.url
    assert f"status={status}" in page.url
    rows = page.locator("main table tbody tr")
    assert rows.count() == 1 and pw.invoice.number in rows.inner_text()

    # The invoice opens from the list with Enter too.
    tab_to(page, f'a[href="/billing/invoices/{pw.invoice.pk}/"]')
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert pw.invoice.number in page.locator("h1").inner_text()


def test_the_inbox_composer_works_from_the_keyboard(
    page, live_server, client, settings, shot
):
    pw = portal_world(client, settings)
    template = MessageTemplateFactory(
        company=pw.world.company,
        name="order_shipped",
        body="Hello {{1}}, your order {{2}} has shipped.",
    )
    conversation = pw.world.conversation
    base = live_server.url
    login(page, base, pw.agent.email)
    page.goto(f"{base}/inbox/")

    tab_to(page, f'a[href="/inbox/{conversation.pk}/"]')
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{base}/inbox/{conversation.pk}/"

    # Free text: the window is open.
    tab_to(page, "#text-form textarea")
    page.keyboard.type("Sent from the keyboard")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "button Send"
    assert page.evaluate(FOCUS_SHOWN)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Sent from the keyboard" in page.locator("#thread").inner_text()
    assert Message.objects.filter(
        conversation=conversation, body="Sent from the keyboard"
    ).exists()

    # A template with two values: choosing it shows its inputs.
    tab_to(page, "#template-select")
    choose_with_arrows(page, str(template.pk))
    fieldset = page.locator(f'.template-params[data-template="{template.pk}"]')
    expect(fieldset).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.type("Ana")
    page.keyboard.press("Tab")
    page.keyboard.type("A-1001")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "button Send template"
    shot(page, "keyboard-composer-template")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    sent = Message.objects.filter(conversation=conversation, template=template).get()
    assert sent.body == "Hello Ana, your order A-1001 has shipped."
    assert "Hello Ana, your order A-1001 has shipped." in page.inner_text("#thread")
