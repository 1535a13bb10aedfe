"""Starting a conversation with a new number in Chromium: the inbox's "New
conversation", a refused number, the first template sent, the contact listed
with its opt-in; and a company admin's contact import with a bad line."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from messaging.models import Contact, Message
from tests.factories import (
    BusinessNumberFactory,
    CompanyAdminFactory,
    CompanyFactory,
    MessageTemplateFactory,
    licensed_user,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw"


def login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


@pytest.fixture
def company(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    company = CompanyFactory(name="Acme Iberia", billing_timezone="Europe/Madrid")
    BusinessNumberFactory(
        company=company, display_phone_number="34910000001", label="Ventas"
    )
    MessageTemplateFactory(
        company=company,
        name="spring_sale",
        category="marketing",
        body="Hola {{1}}, 20% de descuento hasta el {{2}}.",
    )
    MessageTemplateFactory(
        company=company, name="order_update", category="utility", body="Order {{1}}."
    )
    return company


def test_an_agent_starts_a_conversation_with_a_new_number(
    page, live_server, shot, company
):
    with time_machine.travel(timezone.now() - timedelta(days=10)):
        agent = licensed_user(company, email="luis@e2e.example")
    base = live_server.url
    login(page, base, agent.email)
    page.goto(f"{base}/inbox/")
    page.click("#new-conversation")
    assert page.locator("h1").inner_text() == "New conversation"
    # only the chosen template's values are shown
    spring = company.templates.get(name="spring_sale").pk
    update = company.templates.get(name="order_update").pk
    page.select_option("#start-template", label="spring_sale (en_US, Marketing)")
    # (the page's script shows and hides them: wait for it, do not race it)
    expect(page.locator(f"#param-{spring}-1")).to_be_visible()
    expect(page.locator(f"#param-{update}-1")).to_be_hidden()

    # a toll-free number is refused with words, and nothing is created
    page.fill("#id_to", "+1 800 555 0100")
    page.fill(f"#param-{spring}-1", "Ana")
    page.fill(f"#param-{spring}-2", "domingo")
    page.check("#id_opt_in")
    page.click("#start-form button[type=submit]")
    assert "WhatsApp cannot reach this kind of number" in page.inner_text(
        "#start-refusal"
    )
    assert page.input_value("#id_to") == "+1 800 555 0100"
    shot(page, "conversation-new-refused")
    assert not Contact.objects.exists()

    # a new Spanish mobile, written the national way
    page.fill("#id_to", "699 12 34 56")
    page.fill("#id_name", "Ana Gil")
    page.select_option("#start-template", label="spring_sale (en_US, Marketing)")
    page.fill(f"#param-{spring}-1", "Ana")
    page.fill(f"#param-{spring}-2", "domingo")
    page.check("#id_opt_in")
    shot(page, "conversation-new")
    page.click("#start-form button[type=submit]")
    page.wait_for_url("**/inbox/*/")
    assert "Template sent." in page.inner_text("main")
    assert "Hola Ana, 20% de descuento hasta el domingo." in page.inner_text("main")
    shot(page, "conversation-started")
    message = Message.objects.get()
    assert message.conversation.contact.wa_id == "34699123456"
    assert message.template_category == "marketing"

    page.goto(f"{base}/contacts/")
    row = page.locator("tr[data-wa-id='34699123456']")
    assert "Ana Gil" in row.inner_text()
    assert "Spain" in row.inner_text()
    assert "Recorded by hand" in row.inner_text()
    assert "Never wrote" in row.inner_text()
    shot(page, "contacts")


def test_a_company_admin_imports_contacts_and_sees_every_bad_line(
    page, live_server, shot, company, tmp_path
):
    admin = CompanyAdminFactory(company=company, email="ana@e2e.example")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "phone,name,business_number,opted_in_at\n"
        "+34 612 34 56 78,Ana Gil,*,2026-09-14\n"
        "not a number,Bad,,\n"
        "+34 633 00 11 22,Nobody,+34 999 999 999,\n"
    )
    good = tmp_path / "good.csv"
    good.write_text(
        "phone,name,business_number,opted_in_at\n"
        "+34 612 34 56 78,Ana Gil,*,2026-09-14\n"
        "+34 633 00 11 22,Bea Ruiz,,\n"
    )
    base = live_server.url
    login(page, base, admin.email)
    page.goto(f"{base}/contacts/")
    page.click("text=Import contacts")
    page.set_input_files("#id_file", str(bad))
    page.click("main form button[type=submit]")
    errors = page.inner_text("#import-errors")
    assert "Nothing was imported: 2 problems." in errors
    assert "Line 3" in errors and "Line 4" in errors
    shot(page, "contact-import-errors")
    assert not Contact.objects.exists()

    page.set_input_files("#id_file", str(good))
    page.click("main form button[type=submit]")
    page.wait_for_url("**/contacts/")
    assert "Imported 2 contact(s), 2 new, and 1 opt-in(s)." in page.inner_text("main")
    assert "Contact import" in page.inner_text("tr[data-wa-id='34612345678']")
    shot(page, "contacts-imported")
