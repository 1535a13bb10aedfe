"""The agent inbox: conversation list, thread and composer, through the test client."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from messaging import rules
from messaging.exceptions import WindowClosed
from messaging.filters import conversations_with_window
from messaging.models import Conversation, Message
from messaging.services import message_send, window_closed_message
from messaging.transports import SandboxTransport
from tests import whatsapp
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

# 14:00 in Madrid (CEST, UTC+2).
T = datetime(2026, 6, 1, 12, tzinfo=UTC)
READ_ONLY_NOTICE = (
    "You can read this conversation. Sending needs a WhatsApp license; ask your "
    "company admin."
)


@pytest.fixture(autouse=True)
def at_t():
    with time_machine.travel(T, tick=False):
        yield


@pytest.fixture
def company():
    return CompanyFactory(billing_timezone="Europe/Madrid")


@pytest.fixture
def number(company):
    return BusinessNumberFactory(company=company, label="Sales")


@pytest.fixture
def agent(company):
    with time_machine.travel(T - timedelta(days=60), tick=False):
        return licensed_user(company, full_name="Luis Pérez")


@pytest.fixture
def reader(company):
    return UserFactory(company=company, full_name="Elena Gómez")


def contact_writes(client, number, *, wa_id, at, wamid, text="Hi", name="Ana"):
    payload = whatsapp.inbound_payload(
        phone_number_id=number.phone_number_id,
        wa_id=wa_id,
        wamid=wamid,
        at=at,
        text=text,
        name=name,
    )
    assert whatsapp.post(client, payload).status_code == 200
    return Message.objects.get(wamid=wamid).conversation


def send(at, **kwargs):
    with time_machine.travel(at, tick=False), whatsapp.on_commit():
        return message_send(**kwargs)


def conversation_with(number, *, last_inbound_at=None, last_message_at=None, **kw):
    return ConversationFactory(
        business_number=number,
        last_inbound_at=last_inbound_at,
        last_message_at=last_message_at or last_inbound_at or T,
        **kw,
    )


def rows(response) -> list[Conversation]:
    return list(response.context["table"].page.object_list.data)


# --- access -------------------------------------------------------------------


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get(reverse("inbox"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    "url", [reverse("inbox"), reverse("conversation", kwargs={"pk": 1})]
)
def test_customer_success_staff_are_sent_to_the_admin(cs_client, url):
    response = cs_client.get(url)
    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_the_navigation_links_to_the_inbox(client, reader):
    client.force_login(reader)
    response = client.get(reverse("home"))
    assert f'href="{reverse("inbox")}"' in response.content.decode()


def test_another_companys_conversation_is_not_found(client, reader):
    foreign = ConversationFactory()
    client.force_login(reader)
    assert (
        client.get(reverse("conversation", kwargs={"pk": foreign.pk})).status_code
        == 404
    )
    response = client.post(
        reverse("conversation-send", kwargs={"pk": foreign.pk}), {"text": "Hi"}
    )
    assert response.status_code == 404


# --- conversation list -----------------------------------------------------------


def test_inbox_lists_only_the_companys_conversations_newest_first(
    client, reader, number
):
    # given
    older = conversation_with(number, last_message_at=T - timedelta(days=2))
    newer = conversation_with(number, last_message_at=T - timedelta(hours=1))
    ConversationFactory()  # another company
    client.force_login(reader)
    # when
    response = client.get(reverse("inbox"))
    # then
    assert response.status_code == 200
    assert [c.pk for c in rows(response)] == [newer.pk, older.pk]


def test_inbox_shows_contact_masked_number_business_number_and_window(
    client, reader, number
):
    contact = ContactFactory(
        company=number.company, wa_id="34612345678", profile_name="Lucía"
    )
    conversation_with(number, contact=contact, last_inbound_at=T - timedelta(hours=1))
    client.force_login(reader)
    html = client.get(reverse("inbox")).content.decode()
    assert "Lucía" in html
    assert contact.masked_number in html
    assert "34612345678" not in html
    assert str(number) in html
    assert '<span class="badge text-bg-success">Open</span>' in html
    # Times are shown in the company's billing time zone.
    assert "Times in Europe/Madrid" in html


def test_inbox_is_paginated_by_25(client, reader, number):
    for hours in range(30):
        conversation_with(number, last_message_at=T - timedelta(hours=hours))
    client.force_login(reader)
    first = client.get(reverse("inbox"))
    second = client.get(reverse("inbox"), {"page": 2})
    assert len(rows(first)) == 25
    assert len(rows(second)) == 5


def test_inbox_query_count_does_not_grow_with_rows(
    client, reader, number, django_assert_max_num_queries
):
    # given
    for hours in range(5):
        conversation_with(number, last_inbound_at=T - timedelta(hours=hours))
    client.force_login(reader)
    with CaptureQueriesContext(connection) as five:
        assert client.get(reverse("inbox")).status_code == 200
    queries_for_five = len(five)
    for hours in range(35):
        conversation_with(number, last_inbound_at=T - timedelta(days=2, hours=hours))
    # when / then
    with django_assert_max_num_queries(queries_for_five):
        response = client.get(reverse("inbox"), {"window": "closed"})
    assert len(rows(response)) == 25


def test_inbox_filters_by_business_number(client, reader, number):
    other_number = BusinessNumberFactory(company=number.company, label="Support")
    mine = conversation_with(number)
    conversation_with(other_number)
    client.force_login(reader)
    response = client.get(reverse("inbox"), {"business_number": number.pk})
    assert [c.pk for c in rows(response)] == [mine.pk]


def test_the_number_filter_offers_only_the_companys_numbers(client, reader, number):
    foreign = BusinessNumberFactory()
    conversation_with(number)
    client.force_login(reader)
    response = client.get(reverse("inbox"))
    choices = response.context["filter"].form.fields["business_number"].queryset
    assert list(choices) == [number]
    # Another company's number is not a valid choice and shows nothing of it.
    response = client.get(reverse("inbox"), {"business_number": foreign.pk})
    assert response.context["filter"].errors
    assert str(foreign) not in response.content.decode()


def test_inbox_filters_by_window_state(client, reader, number):
    # given
    open_ = conversation_with(number, last_inbound_at=T - timedelta(hours=23))
    closed = conversation_with(number, last_inbound_at=T - timedelta(hours=24))
    never = conversation_with(number, last_message_at=T - timedelta(days=3))
    client.force_login(reader)
    # when
    opened = client.get(reverse("inbox"), {"window": "open"})
    closed_ = client.get(reverse("inbox"), {"window": "closed"})
    # then
    assert [c.pk for c in rows(opened)] == [open_.pk]
    assert [c.pk for c in rows(closed_)] == [closed.pk, never.pk]


@pytest.mark.parametrize(
    "age",
    [
        timedelta(0),
        timedelta(hours=24) - timedelta(seconds=1),
        timedelta(hours=24),
        timedelta(hours=24) + timedelta(seconds=1),
        -timedelta(seconds=1),  # a provider timestamp ahead of our clock
    ],
)
def test_the_sql_window_state_matches_the_rule_at_the_edges(number, age):
    conversation = conversation_with(number, last_inbound_at=T - age)
    annotated = conversations_with_window(
        Conversation.objects.filter(pk=conversation.pk), at=T
    ).get()
    assert annotated.window_open is rules.window_is_open(last_inbound_at=T - age, at=T)


def test_an_empty_inbox_explains_where_conversations_come_from(client, reader):
    client.force_login(reader)
    html = client.get(reverse("inbox")).content.decode()
    assert (
        "No conversations yet: they appear when a contact writes to one of your "
        "WhatsApp numbers."
    ) in html
    assert "<table" not in html


def test_filters_without_matches_say_so(client, reader, number):
    conversation_with(number, last_inbound_at=T - timedelta(days=2))
    client.force_login(reader)
    html = client.get(reverse("inbox"), {"window": "open"}).content.decode()
    assert "No conversations match these filters." in html


# --- thread -----------------------------------------------------------------------


@pytest.fixture
def history(client, number, agent):
    """Contact writes at T-2h; the agent answers with text and a utility template."""
    conversation = contact_writes(
        client,
        number,
        wa_id="34612345678",
        at=T - timedelta(hours=2),
        wamid="wamid.in1",
        text="Where is my order?",
        name="Lucía",
    )
    send(
        T - timedelta(hours=1, minutes=50),
        sender=agent,
        conversation=conversation,
        text="It ships today.",
    )
    template = MessageTemplateFactory(
        company=number.company, name="order_shipped", category="utility"
    )
    send(
        T - timedelta(hours=1, minutes=48),
        sender=agent,
        conversation=conversation,
        template=template,
        params=["Lucía", "A-17"],
    )
    return conversation


def test_the_thread_shows_messages_oldest_first_with_sender_status_and_template(
    client, reader, history
):
    client.force_login(reader)
    response = client.get(reverse("conversation", kwargs={"pk": history.pk}))
    html = response.content.decode()
    assert [m.body for m in response.context["thread"]] == [
        "Where is my order?",
        "It ships today.",
        "Hello Lucía, your order A-17 has shipped.",
    ]
    assert html.index("Where is my order?") < html.index("It ships today.")
    assert 'class="bubble in' in html
    assert 'class="bubble out"' in html
    assert "Luis Pérez" in html
    assert "✓✓ Read" in html
    assert "order_shipped" in html
    assert '<span class="badge category-utility">Utility</span>' in html
    # 10:00 UTC is 12:00 in Madrid.
    assert "1 Jun 2026, 12:00" in html


def test_the_thread_shows_delivered_sent_and_failed_statuses(client, reader, number):
    # given
    conversation = conversation_with(number)
    base = {
        "company": number.company,
        "conversation": conversation,
        "direction": "out",
        "type": "text",
        "provider_timestamp": T,
    }
    Message.objects.create(wamid="w1", body="one", status="sent", **base)
    Message.objects.create(wamid="w2", body="two", status="delivered", **base)
    Message.objects.create(
        wamid="w3",
        body="three",
        status="failed",
        error_title="Message undeliverable",
        **base,
    )
    Message.objects.create(wamid="w4", body="four", status="accepted", **base)
    client.force_login(reader)
    # when
    html = client.get(reverse("conversation", kwargs={"pk": conversation.pk}))
    html = html.content.decode()
    # then
    assert "✓ Sent" in html
    assert "✓✓ Delivered" in html
    assert "Failed" in html
    # No known code: the provider's own title is the reason.
    assert '<span class="failure-reason">Message undeliverable</span>' in html
    assert "Sending" in html


def test_an_open_window_shows_the_time_left(client, reader, number):
    conversation = conversation_with(
        number, last_inbound_at=T - timedelta(hours=20, minutes=48)
    )
    client.force_login(reader)
    html = client.get(reverse("conversation", kwargs={"pk": conversation.pk}))
    assert "Open, closes in 3 h 12 min" in html.content.decode()


def test_a_closed_window_shows_when_it_closed(client, reader, number):
    conversation = conversation_with(
        number, last_inbound_at=datetime(2026, 5, 30, 8, 15, tzinfo=UTC)
    )
    client.force_login(reader)
    html = client.get(reverse("conversation", kwargs={"pk": conversation.pk}))
    # Closed 31 May 08:15 UTC, 10:15 in Madrid.
    assert "Closed since 31 May 2026, 10:15" in html.content.decode()


def test_a_conversation_without_inbound_messages_says_so(client, reader, number):
    conversation = conversation_with(number)
    client.force_login(reader)
    html = client.get(reverse("conversation", kwargs={"pk": conversation.pk}))
    assert "No message from this contact yet" in html.content.decode()


def test_the_thread_query_count_does_not_grow_with_messages(
    client, agent, number, django_assert_max_num_queries
):
    # given
    def write(count, start):
        messages = [
            {
                "from": "34612345678",
                "id": f"wamid.bulk{start + i}",
                "timestamp": str(int((T - timedelta(minutes=start + i)).timestamp())),
                "type": "text",
                "text": {"body": f"message {start + i}"},
            }
            for i in range(count)
        ]
        payload = whatsapp.envelope(
            phone_number_id=number.phone_number_id, messages=messages
        )
        assert whatsapp.post(client, payload).status_code == 200

    write(5, 0)
    conversation = Conversation.objects.get()
    MessageTemplateFactory(company=number.company)
    client.force_login(agent)
    url = reverse("conversation", kwargs={"pk": conversation.pk})
    with CaptureQueriesContext(connection) as five:
        assert client.get(url).status_code == 200
    # Read now: the next request resets the connection's query log.
    queries_for_five = len(five)
    write(35, 5)
    # when / then
    with django_assert_max_num_queries(queries_for_five):
        response = client.get(url)
    assert len(response.context["thread"]) == 40


def test_long_threads_show_the_newest_page_first(client, reader, number):
    conversation = conversation_with(number)
    for i in range(60):
        Message.objects.create(
            company=number.company,
            conversation=conversation,
            direction="in",
            type="text",
            body=f"message {i:02d}",
            wamid=f"w{i}",
            provider_timestamp=T - timedelta(minutes=60 - i),
            status="received",
        )
    client.force_login(reader)
    url = reverse("conversation", kwargs={"pk": conversation.pk})
    newest = client.get(url)
    assert [m.body for m in newest.context["thread"]][0] == "message 10"
    assert [m.body for m in newest.context["thread"]][-1] == "message 59"
    assert "Load older messages" in newest.content.decode()
    # Without JavaScript "Load older" is a link to the page before the first shown.
    first = newest.context["thread"][0]
    older = client.get(url, {"before": first.pk})
    assert [m.body for m in older.context["thread"]][-1] == "message 09"
    assert "Newer messages" in older.content.decode()


# --- composer ------------------------------------------------------------------------


def test_a_licensed_user_in_an_open_window_gets_text_and_templates(
    client, agent, number
):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    template = MessageTemplateFactory(company=number.company, name="order_shipped")
    MessageTemplateFactory(company=number.company, name="draft", status="pending")
    client.force_login(agent)
    response = client.get(reverse("conversation", kwargs={"pk": conversation.pk}))
    html = response.content.decode()
    assert 'id="text-form"' in html
    assert 'id="template-form"' in html
    assert f'<option value="{template.pk}">order_shipped' in html
    assert ">draft" not in html
    # One input per placeholder: {{1}} and {{2}}.
    assert f'name="param-{template.pk}-1"' in html
    assert f'name="param-{template.pk}-2"' in html
    assert f'name="param-{template.pk}-3"' not in html
    assert READ_ONLY_NOTICE not in html


def test_a_licensed_user_in_a_closed_window_gets_only_templates(client, agent, number):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(days=2))
    MessageTemplateFactory(company=number.company)
    client.force_login(agent)
    html = client.get(reverse("conversation", kwargs={"pk": conversation.pk}))
    html = html.content.decode()
    assert 'id="text-form"' not in html
    assert 'id="template-form"' in html
    assert "only approved templates can be sent" in html


def test_an_unlicensed_user_reads_without_a_composer(client, reader, number):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    MessageTemplateFactory(company=number.company)
    client.force_login(reader)
    html = client.get(reverse("conversation", kwargs={"pk": conversation.pk}))
    html = html.content.decode()
    assert READ_ONLY_NOTICE in html
    assert "<form" not in html.split('id="composer"')[1]


def test_an_unlicensed_company_admin_is_sent_to_the_licenses_page_not_to_their_admin(
    client, number
):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    admin = CompanyAdminFactory(company=number.company)
    client.force_login(admin)
    html = client.get(reverse("conversation", kwargs={"pk": conversation.pk}))
    html = html.content.decode()
    assert "ask your company admin" not in html
    assert "assign yourself one on the Licenses page" in html
    assert f'href="{reverse("licensing:licenses")}"' in html


def test_each_form_on_the_page_has_its_own_idempotency_key(client, agent, number):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    MessageTemplateFactory(company=number.company)
    client.force_login(agent)
    response = client.get(reverse("conversation", kwargs={"pk": conversation.pk}))
    text_key = response.context["text_form"]["idempotency_key"].value()
    template_key = response.context["template_form"]["idempotency_key"].value()
    assert text_key != template_key


# --- sending -------------------------------------------------------------------------


def post_send(client, conversation, **data):
    data.setdefault("idempotency_key", "6f1c1c1e-8a43-4f67-9c5e-3b0f0d6f7a10")
    with whatsapp.on_commit():
        return client.post(
            reverse("conversation-send", kwargs={"pk": conversation.pk}),
            data,
            follow=True,
        )


def test_a_licensed_user_sends_text_in_an_open_window(client, agent, number):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    client.force_login(agent)
    response = post_send(client, conversation, text="On its way!")
    assert response.redirect_chain == [
        (reverse("conversation", kwargs={"pk": conversation.pk}), 302)
    ]
    message = Message.objects.get(direction="out")
    assert (message.body, message.sender, message.status) == (
        "On its way!",
        agent,
        "read",
    )
    assert "Message sent." in response.content.decode()


def test_a_double_submit_sends_once(client, agent, number, monkeypatch):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    calls = []
    real = SandboxTransport.send
    monkeypatch.setattr(
        SandboxTransport, "send", lambda self, **kw: calls.append(1) or real(self, **kw)
    )
    client.force_login(agent)
    post_send(client, conversation, text="Once")
    post_send(client, conversation, text="Once")
    assert len(calls) == 1
    assert Message.objects.filter(direction="out").count() == 1


def test_a_licensed_user_sends_a_template_with_its_values(client, agent, number):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(days=3))
    template = MessageTemplateFactory(company=number.company)
    client.force_login(agent)
    post_send(
        client,
        conversation,
        template=template.pk,
        **{f"param-{template.pk}-1": "Ana", f"param-{template.pk}-2": "A-17"},
    )
    message = Message.objects.get(direction="out")
    assert message.template == template
    assert message.body == "Hello Ana, your order A-17 has shipped."


def test_text_in_a_closed_window_shows_the_services_refusal(client, agent, number):
    conversation = conversation_with(
        number, last_inbound_at=datetime(2026, 5, 30, 8, 15, tzinfo=UTC)
    )
    client.force_login(agent)
    response = post_send(client, conversation, text="Hello?")
    with pytest.raises(WindowClosed) as refusal:
        message_send(sender=agent, conversation=conversation, text="Hello?")
    # The same refusal, with the time in the viewer's zone (named), not UTC.
    zone = number.company.zone
    shown = window_closed_message(
        closes_at=refusal.value.context["closes_at"], zone=zone
    )
    html = response.content.decode()
    assert shown in html
    assert str(zone) in shown
    assert "UTC" not in shown or str(zone) == "UTC"
    assert not Message.objects.exists()


def test_an_unlicensed_user_posting_anyway_is_refused(client, reader, number):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    client.force_login(reader)
    response = post_send(client, conversation, text="Hi")
    assert "holds no WhatsApp license" in response.content.decode()
    assert not Message.objects.exists()


def test_a_missing_placeholder_value_sends_nothing(client, agent, number):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    template = MessageTemplateFactory(company=number.company)
    client.force_login(agent)
    response = post_send(
        client, conversation, template=template.pk, **{f"param-{template.pk}-1": "Ana"}
    )
    assert "Fill in a value for {{2}}." in response.content.decode()
    assert not Message.objects.exists()


def test_a_template_no_longer_approved_shows_the_services_refusal(
    client, agent, number
):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    template = MessageTemplateFactory(
        company=number.company, status="rejected", body="Hi"
    )
    client.force_login(agent)
    response = post_send(client, conversation, template=template.pk)
    assert "only approved templates can be sent" in response.content.decode()
    assert not Message.objects.exists()


def test_another_companys_template_is_not_accepted(client, agent, number):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(hours=1))
    foreign = MessageTemplateFactory(body="Hi")
    client.force_login(agent)
    response = post_send(client, conversation, template=foreign.pk)
    assert "Select a valid choice" in response.content.decode()
    assert not Message.objects.exists()


def test_sending_needs_post(client, agent, number):
    conversation = conversation_with(number)
    client.force_login(agent)
    url = reverse("conversation-send", kwargs={"pk": conversation.pk})
    assert client.get(url).status_code == 405
