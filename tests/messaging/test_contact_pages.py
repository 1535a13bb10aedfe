"""The contacts page, the contact import, opt-ins by hand and "New conversation"."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from messaging.exceptions import ContactImportInvalid
from messaging.models import Contact, ContactOptIn, Conversation, Message
from messaging.services import contacts_import
from tests.factories import (
    BusinessNumberFactory,
    CompanyAdminFactory,
    CompanyFactory,
    ContactFactory,
    ConversationFactory,
    MessageTemplateFactory,
    UserFactory,
    licensed_user,
)

pytestmark = pytest.mark.django_db

T = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def at_t():
    with time_machine.travel(T, tick=False):
        yield


@pytest.fixture
def number():
    return BusinessNumberFactory(
        company=CompanyFactory(), display_phone_number="34910000001"
    )


@pytest.fixture
def admin(number):
    return CompanyAdminFactory(company=number.company)


@pytest.fixture
def agent(number):
    with time_machine.travel(T - timedelta(days=30), tick=False):
        return licensed_user(number.company)


# --- the list ---------------------------------------------------------------------


def test_contacts_list_shows_number_country_last_inbound_window_and_opt_ins(
    client, number, agent
):
    # given one contact who wrote an hour ago, one who never wrote
    wrote = ConversationFactory(
        business_number=number,
        contact=ContactFactory(company=number.company, profile_name="Ana Gil"),
        last_inbound_at=T - timedelta(hours=1),
    )
    ContactFactory(company=number.company, profile_name="Bea Ruiz", country="MX")
    ContactFactory(profile_name="Other company")
    client.force_login(agent)
    # when
    page = client.get(reverse("contacts")).content.decode()
    # then
    assert "Ana Gil" in page and "Bea Ruiz" in page
    assert "Other company" not in page
    assert f"+{wrote.contact.wa_id}" in page
    assert "Spain" in page and "Mexico" in page
    assert "1 Jun 2026, 11:00" in page
    assert "Never wrote" in page
    assert page.count("text-bg-success") == 1  # one open window
    assert "Contact import" in page  # the factory's opt-in, by its source
    assert "No opt-in" in page


def test_contacts_list_in_spanish_names_countries_in_spanish(client, number, agent):
    ContactFactory(company=number.company, country="ES")
    client.force_login(agent)
    page = client.get(reverse("contacts"), headers={"accept-language": "es"})
    assert "España" in page.content.decode()


def test_contacts_list_shows_the_market_each_number_is_priced_in(client, number, agent):
    # an Austrian number is priced in "Rest of Western Europe" (C6), in the
    # viewer's language; its country stays Austria
    ContactFactory(company=number.company, wa_id="436641234567", country="AT")
    client.force_login(agent)
    english = client.get(reverse("contacts")).content.decode()
    spanish = client.get(
        reverse("contacts"), headers={"accept-language": "es"}
    ).content.decode()
    assert "<td>Austria</td>" in english
    assert "<td>Rest of Western Europe</td>" in english
    assert "<td>Resto de Europa occidental</td>" in spanish


def test_contacts_search_by_name_or_digits(client, number, agent):
    ContactFactory(company=number.company, profile_name="Ana Gil", wa_id="34611000001")
    ContactFactory(company=number.company, profile_name="Bea Ruiz", wa_id="34622000002")
    client.force_login(agent)
    by_name = client.get(reverse("contacts"), {"q": "ana"}).content.decode()
    by_digits = client.get(reverse("contacts"), {"q": "622 000"}).content.decode()
    assert "Ana Gil" in by_name and "Bea Ruiz" not in by_name
    assert "Bea Ruiz" in by_digits and "Ana Gil" not in by_digits


def test_contacts_list_query_count_does_not_grow_with_contacts(
    client, number, agent, django_assert_max_num_queries
):
    def many(n):
        for _ in range(n):
            ConversationFactory(business_number=number, last_inbound_at=T)

    many(3)
    client.force_login(agent)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("contacts"))
    many(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("contacts"))


# --- opt-in by hand ----------------------------------------------------------------


def test_a_licensed_agent_records_an_opt_in_by_hand(client, number, agent):
    contact = ContactFactory(company=number.company)
    client.force_login(agent)
    response = client.post(
        reverse("contact-opt-in", args=[contact.pk]), {"business_number": number.pk}
    )
    assert response.status_code == 302
    opt_in = ContactOptIn.objects.get(contact=contact)
    assert (opt_in.source, opt_in.recorded_by, opt_in.opted_in_at) == (
        ContactOptIn.Source.MANUAL,
        agent,
        T,
    )


def test_a_read_only_agent_cannot_record_an_opt_in(client, number):
    contact = ContactFactory(company=number.company)
    client.force_login(UserFactory(company=number.company))
    client.post(
        reverse("contact-opt-in", args=[contact.pk]), {"business_number": number.pk}
    )
    assert not ContactOptIn.objects.exists()


def test_an_opt_in_to_another_companys_number_is_refused(client, number, agent):
    contact = ContactFactory(company=number.company)
    other = BusinessNumberFactory()
    client.force_login(agent)
    client.post(
        reverse("contact-opt-in", args=[contact.pk]), {"business_number": other.pk}
    )
    assert not ContactOptIn.objects.exists()


# --- the import -------------------------------------------------------------------

GOOD = (
    "phone,name,business_number,opted_in_at\n"
    "+34 612 34 56 78,Ana Gil,+34 910 000 001,2026-05-02\n"
    "622 33 44 55,Bea Ruiz,,\n"
    "+52 55 1234 5678,Carlos Díaz,*,\n"
)


def test_import_creates_contacts_and_opt_ins(number, admin):
    result = contacts_import(company=number.company, text=GOOD, actor=admin)
    assert result == {"contacts": 3, "created": 3, "opt_ins": 2}
    assert set(Contact.objects.values_list("wa_id", "profile_name", "country")) == {
        ("34612345678", "Ana Gil", "ES"),
        ("34622334455", "Bea Ruiz", "ES"),
        ("525512345678", "Carlos Díaz", "MX"),
    }
    ana = ContactOptIn.objects.get(contact__wa_id="34612345678")
    assert ana.opted_in_at == datetime(2026, 5, 2, tzinfo=UTC)
    assert ana.source == ContactOptIn.Source.IMPORT
    carlos = ContactOptIn.objects.get(contact__wa_id="525512345678")
    assert carlos.opted_in_at == T


def test_import_again_changes_nothing_and_keeps_the_earliest_opt_in(number, admin):
    contacts_import(company=number.company, text=GOOD, actor=admin)
    again = GOOD.replace("2026-05-02", "2026-05-20")
    result = contacts_import(company=number.company, text=again, actor=admin)
    assert result["created"] == 0
    assert Contact.objects.count() == 3
    ana = ContactOptIn.objects.get(contact__wa_id="34612345678")
    assert ana.opted_in_at == datetime(2026, 5, 2, tzinfo=UTC)


def test_import_reports_every_bad_row_by_line_and_imports_nothing(number, admin):
    text = (
        "phone,name,business_number,opted_in_at\n"
        "+34 612 34 56 78,Ana Gil,,\n"
        "hello,Bad,,\n"
        "\n"
        "+34 12,Short,,\n"
        "+1 800 555 0100,Toll free,,\n"
        "+34 633 00 11 22,Nobody,+34 999 999 999,\n"
        "+34 644 00 11 22,When,+34 910 000 001,2026-13-45\n"
        "+34 655 00 11 22,Later,+34 910 000 001,2026-07-01\n"
        "+34 666 00 11 22,No number,,2026-05-01\n"
        "+34 677 00 11 22,too,many,fields,here\n"
        "+34 688 00 11 22,Nul\x00,,\n"
    )
    with pytest.raises(ContactImportInvalid) as refused:
        contacts_import(company=number.company, text=text, actor=admin)
    lines = [line for line, _ in refused.value.errors]
    assert lines == [3, 5, 6, 7, 8, 9, 10, 11, 12]
    messages = dict(refused.value.errors)
    assert "not a phone number" in messages[3]
    assert "not valid" in messages[5]
    assert "cannot reach" in messages[6]
    assert "not a business number of your company" in messages[7]
    assert "not a date" in messages[8]
    assert "future" in messages[9]
    assert "needs a business_number" in messages[10]
    assert "Expected 4 fields, found 5" in messages[11]
    assert "NUL" in messages[12]
    assert not Contact.objects.exists()
    assert not ContactOptIn.objects.exists()


@pytest.mark.parametrize(
    "text,words",
    [
        ("", "empty"),
        ("name\nAna\n", "phone column is missing"),
        ("phone,email\n+34612345678,a@b.c\n", "Unknown column"),
    ],
)
def test_import_refuses_a_bad_header(number, admin, text, words):
    with pytest.raises(ContactImportInvalid) as refused:
        contacts_import(company=number.company, text=text, actor=admin)
    assert refused.value.errors[0][0] == 1
    assert words in refused.value.errors[0][1]


def test_import_page_is_for_company_admins(client, number, admin, agent):
    client.force_login(agent)
    assert client.get(reverse("contact-import")).status_code == 403
    client.force_login(admin)
    upload = SimpleUploadedFile("contacts.csv", GOOD.encode(), "text/csv")
    response = client.post(reverse("contact-import"), {"file": upload})
    assert response.status_code == 302
    assert Contact.objects.count() == 3


def test_import_page_lists_the_bad_lines(client, number, admin):
    client.force_login(admin)
    upload = SimpleUploadedFile(
        "contacts.csv", b"phone,name\n+34612345678,Ana\nnope,Bad\n", "text/csv"
    )
    response = client.post(reverse("contact-import"), {"file": upload})
    page = response.content.decode()
    assert response.status_code == 422
    assert "Nothing was imported: 1 problem." in page
    assert "Line 3" in page
    assert not Contact.objects.exists()


# --- New conversation ---------------------------------------------------------------


def test_new_conversation_page_sends_the_first_template(client, number, agent):
    template = MessageTemplateFactory(company=number.company, body="Hi {{1}}")
    client.force_login(agent)
    page = client.get(reverse("conversation-new"))
    assert page.status_code == 200
    key = page.context["form"]["idempotency_key"].value()
    body = {
        "idempotency_key": key,
        "business_number": number.pk,
        "to": "612 34 56 78",
        "name": "Ana Gil",
        "template": template.pk,
        f"param-{template.pk}-1": "Ana",
        "opt_in": "on",
    }
    response = client.post(reverse("conversation-new"), body)
    conversation = Conversation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("conversation", args=[conversation.pk])
    assert conversation.contact.wa_id == "34612345678"
    assert Message.objects.get().body == "Hi Ana"
    # a double submit sends once
    client.post(reverse("conversation-new"), body)
    assert Message.objects.count() == 1


def test_new_conversation_shows_the_refusal_and_keeps_the_input(client, number, agent):
    template = MessageTemplateFactory(company=number.company, body="Hi")
    client.force_login(agent)
    response = client.post(
        reverse("conversation-new"),
        {
            "idempotency_key": "6f1c1bb2-0f0e-4a50-9d3e-6cf0e1f7b001",
            "business_number": number.pk,
            "to": "+1 800 555 0100",
            "template": template.pk,
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "WhatsApp cannot reach this kind of number" in page
    assert 'value="+1 800 555 0100"' in page
    assert not Contact.objects.exists()


def test_new_conversation_without_opt_in_is_refused_clearly(client, number, agent):
    template = MessageTemplateFactory(company=number.company, body="Hi")
    client.force_login(agent)
    response = client.post(
        reverse("conversation-new"),
        {
            "idempotency_key": "6f1c1bb2-0f0e-4a50-9d3e-6cf0e1f7b002",
            "business_number": number.pk,
            "to": "+34 612 34 56 78",
            "template": template.pk,
        },
    )
    assert "has not opted in" in response.content.decode()
    assert not Contact.objects.exists()


def test_new_conversation_for_a_read_only_agent_says_a_license_is_needed(
    client, number
):
    MessageTemplateFactory(company=number.company)
    client.force_login(UserFactory(company=number.company))
    page = client.get(reverse("conversation-new")).content.decode()
    assert "sending needs a license" in page
    assert 'id="start-form"' not in page


def test_the_inbox_links_to_new_conversation(client, number, agent):
    client.force_login(agent)
    page = client.get(reverse("inbox")).content.decode()
    assert reverse("conversation-new") in page
