"""Find and follow: search, the new filters (closing within 1 h, unread,
assigned), assignment and read markers (services and views), the thread's
paging and live part, failure reasons, times in the viewer's zone and the
template parameter labels."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from accounts.models import User
from messaging import rules
from messaging.exceptions import AssignmentRefused
from messaging.models import (
    Conversation,
    ConversationAssignment,
    ConversationRead,
    Message,
)
from messaging.services import conversation_assign, conversation_mark_read
from messaging.windows import window_closing_q
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

T = datetime(2026, 6, 1, 12, tzinfo=UTC)  # 14:00 in Madrid
HOUR = timedelta(hours=1)
TICK = timedelta(microseconds=1)


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
def other_agent(company):
    with time_machine.travel(T - timedelta(days=60), tick=False):
        return licensed_user(company, full_name="Marta Ruiz")


@pytest.fixture
def reader(company):
    return UserFactory(company=company, full_name="Elena Gómez")


def conversation_with(number, *, name="Ana", wa_id=None, last_inbound_at=None, **kw):
    contact = ContactFactory(
        company=number.company,
        profile_name=name,
        **({"wa_id": wa_id} if wa_id else {}),
    )
    return ConversationFactory(
        business_number=number,
        contact=contact,
        last_inbound_at=last_inbound_at,
        last_message_at=kw.pop("last_message_at", last_inbound_at or T),
        **kw,
    )


_wamids = iter(range(10**6))


def message(conversation, *, direction="in", body="Hi", at=T, **kw):
    return Message.objects.create(
        company=conversation.company,
        conversation=conversation,
        direction=direction,
        type="text",
        body=body,
        wamid=f"wamid.{next(_wamids)}",
        provider_timestamp=at,
        status=kw.pop("status", "received" if direction == "in" else "sent"),
        **kw,
    )


def deactivated(user):
    User.objects.filter(pk=user.pk).update(is_active=False)
    return User.objects.get(pk=user.pk)


def rows(response) -> list[Conversation]:
    return list(response.context["table"].page.object_list.data)


def inbox(client, **params):
    response = client.get(reverse("inbox"), {"assigned": "all", **params})
    assert response.status_code == 200
    return response


# --- search -------------------------------------------------------------------------


def test_search_finds_conversations_by_contact_name(client, reader, number):
    ana = conversation_with(number, name="Ana Torres")
    conversation_with(number, name="Bruno Díaz")
    client.force_login(reader)
    assert rows(inbox(client, q="torres")) == [ana]
    assert rows(inbox(client, q="ana tor")) == [ana]  # every word, any case


def test_search_finds_conversations_by_number_digits_whatever_the_formatting(
    client, reader, number
):
    ana = conversation_with(number, wa_id="34612345678")
    conversation_with(number, wa_id="5215512345678")
    client.force_login(reader)
    assert rows(inbox(client, q="+34 612 34")) == [ana]
    assert rows(inbox(client, q="612-345-678")) == [ana]


def test_search_finds_conversations_by_message_text(client, reader, number):
    refund = conversation_with(number, name="Ana")
    other = conversation_with(number, name="Bruno")
    message(refund, body="I would like a refund for order 8812, please")
    message(other, body="Where is my parcel?")
    client.force_login(reader)
    assert rows(inbox(client, q="refund")) == [refund]
    assert rows(inbox(client, q="refund 8812")) == [refund]
    assert rows(inbox(client, q="parcel")) == [other]
    assert rows(inbox(client, q="refun")) == [refund]  # words as prefixes too
    assert rows(inbox(client, q="nothing like this")) == []


def test_search_never_finds_another_companys_messages(client, reader, number):
    foreign = ConversationFactory()
    message(foreign, body="secret refund")
    client.force_login(reader)
    assert rows(inbox(client, q="refund")) == []


@pytest.mark.parametrize("q", ["':* & | !", "(((", "\\", "'; DROP TABLE x; --"])
def test_search_syntax_in_the_query_is_only_text(client, reader, number, q):
    conversation_with(number)
    client.force_login(reader)
    inbox(client, q=q)  # answers 200 whatever punctuation is typed


# --- window filters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("written_ago", "phase"),
    [
        (timedelta(hours=23) - TICK, "open"),
        (timedelta(hours=23), "closing"),  # one hour left exactly
        (timedelta(hours=24) - TICK, "closing"),
        (timedelta(hours=24), "closed"),
    ],
)
def test_the_closing_filter_agrees_with_the_rule_at_the_edges(
    client, reader, number, written_ago, phase
):
    conversation = conversation_with(number, last_inbound_at=T - written_ago)
    assert rules.window_phase(last_inbound_at=T - written_ago, at=T) == phase
    client.force_login(reader)
    closing = rows(inbox(client, window="closing"))
    assert (closing == [conversation]) is (phase == "closing")
    open_ = rows(inbox(client, window="open"))
    assert (open_ == [conversation]) is (phase in ("open", "closing"))
    assert Conversation.objects.filter(window_closing_q(at=T)).exists() is (
        phase == "closing"
    )


def test_a_conversation_moves_into_closing_as_time_passes(client, reader, number):
    conversation = conversation_with(number, last_inbound_at=T)
    client.force_login(reader)
    assert rows(inbox(client, window="closing")) == []
    with time_machine.travel(T + timedelta(hours=23), tick=False):
        assert rows(inbox(client, window="closing")) == [conversation]
        html = inbox(client).content.decode()
        assert "Closing" in html
        assert "until 14:00" in html  # Madrid: 12:00 UTC + 24 h, in CEST
    with time_machine.travel(T + timedelta(hours=24), tick=False):
        assert rows(inbox(client, window="closing")) == []
        assert rows(inbox(client, window="closed")) == [conversation]


# --- unread and read markers --------------------------------------------------------


def test_unread_counts_are_per_user_and_a_get_never_marks_read(
    client, reader, agent, number
):
    conversation = conversation_with(number, last_inbound_at=T)
    first = message(conversation, body="one")
    message(conversation, body="two")
    message(conversation, direction="out", body="answer", sender=agent)
    client.force_login(reader)
    listed = rows(inbox(client))
    assert listed[0].unread == 2
    client.get(reverse("conversation", kwargs={"pk": conversation.pk}))
    assert not ConversationRead.objects.exists()  # a GET writes nothing
    assert rows(inbox(client, unread="on")) == [conversation]
    # The page posts how far it has been read.
    response = client.post(
        reverse("conversation-read", kwargs={"pk": conversation.pk}),
        {"up_to": first.pk},
        HTTP_X_REQUESTED_WITH="fetch",
    )
    assert response.status_code == 204
    assert rows(inbox(client))[0].unread == 1
    newest = Message.objects.filter(conversation=conversation).latest("id")
    client.post(
        reverse("conversation-read", kwargs={"pk": conversation.pk}),
        {"up_to": newest.pk},
    )
    assert rows(inbox(client))[0].unread == 0
    assert rows(inbox(client, unread="on")) == []
    # Another user's marker is their own.
    client.force_login(agent)
    assert rows(inbox(client))[0].unread == 2


def test_the_read_marker_only_moves_forward_and_never_past_the_newest(reader, number):
    conversation = conversation_with(number)
    one = message(conversation)
    two = message(conversation)
    assert (
        conversation_mark_read(
            user=reader, conversation=conversation, up_to_message_id=two.pk
        )
        == two.pk
    )
    assert (
        conversation_mark_read(
            user=reader, conversation=conversation, up_to_message_id=one.pk
        )
        == two.pk
    )
    assert (
        conversation_mark_read(
            user=reader, conversation=conversation, up_to_message_id=two.pk + 1000
        )
        == two.pk
    )
    assert ConversationRead.objects.get().last_read_message_id == two.pk


def test_marking_another_companys_conversation_read_is_not_found(client, reader):
    foreign = ConversationFactory()
    client.force_login(reader)
    response = client.post(
        reverse("conversation-read", kwargs={"pk": foreign.pk}), {"up_to": 1}
    )
    assert response.status_code == 404
    assert not ConversationRead.objects.exists()


def test_reading_is_a_post(client, reader, number):
    conversation = conversation_with(number)
    client.force_login(reader)
    url = reverse("conversation-read", kwargs={"pk": conversation.pk})
    assert client.get(url).status_code == 405
    assert client.post(url, {"up_to": "x"}).status_code == 400


# --- assignment ---------------------------------------------------------------------


def test_assigning_and_reassigning_keeps_the_trail(agent, other_agent, reader, number):
    conversation = conversation_with(number)
    conversation_assign(conversation=conversation, assignee=agent, by=reader)
    conversation_assign(conversation=conversation, assignee=agent, by=reader)  # no-op
    conversation_assign(conversation=conversation, assignee=other_agent, by=agent)
    conversation_assign(conversation=conversation, assignee=None, by=other_agent)
    conversation.refresh_from_db()
    assert conversation.assigned_to is None
    assert list(
        ConversationAssignment.objects.values_list("assigned_to", "assigned_by")
    ) == [
        (agent.pk, reader.pk),
        (other_agent.pk, agent.pk),
        (None, other_agent.pk),
    ]


@pytest.mark.parametrize("who", ["reader", "foreign", "inactive"])
def test_conversations_go_only_to_licensed_active_agents_of_the_company(
    agent, reader, number, who
):
    conversation = conversation_with(number)
    assignee = {
        "reader": lambda: reader,
        "foreign": lambda: licensed_user(CompanyFactory()),
        "inactive": lambda: deactivated(agent),
    }[who]()
    with pytest.raises(AssignmentRefused):
        conversation_assign(conversation=conversation, assignee=assignee, by=reader)
    conversation.refresh_from_db()
    assert conversation.assigned_to is None
    assert not ConversationAssignment.objects.exists()


def test_a_user_of_another_company_cannot_assign(agent, number):
    conversation = conversation_with(number)
    outsider = UserFactory(company=CompanyFactory())
    with pytest.raises(AssignmentRefused):
        conversation_assign(conversation=conversation, assignee=agent, by=outsider)
    assert not ConversationAssignment.objects.exists()


def test_assigned_to_me_is_the_agents_default_view_with_a_way_to_see_all(
    client, agent, other_agent, number
):
    mine = conversation_with(number, name="Mine")
    theirs = conversation_with(number, name="Theirs")
    free = conversation_with(number, name="Free")
    conversation_assign(conversation=mine, assignee=agent, by=agent)
    conversation_assign(conversation=theirs, assignee=other_agent, by=agent)
    client.force_login(agent)
    response = client.get(reverse("inbox"))
    assert rows(response) == [mine]
    html = response.content.decode()
    assert 'href="?assigned=all"' in html
    assert set(rows(client.get(reverse("inbox"), {"assigned": "all"}))) == {
        mine,
        theirs,
        free,
    }
    assert rows(client.get(reverse("inbox"), {"assigned": "unassigned"})) == [free]


def test_admins_and_readers_start_on_all_conversations(client, reader, number):
    conversation = conversation_with(number)
    for user in (reader, CompanyAdminFactory(company=number.company)):
        client.force_login(user)
        assert rows(client.get(reverse("inbox"))) == [conversation]


def test_an_agent_with_nothing_assigned_is_told_and_linked_to_all(
    client, agent, number
):
    conversation_with(number)
    client.force_login(agent)
    html = client.get(reverse("inbox")).content.decode()
    assert "No conversation is assigned to you." in html


def test_the_thread_assigns_through_a_post(client, agent, other_agent, number):
    conversation = conversation_with(number)
    client.force_login(agent)
    url = reverse("conversation-assign", kwargs={"pk": conversation.pk})
    client.post(url, {"assignee": other_agent.pk})
    conversation.refresh_from_db()
    assert conversation.assigned_to == other_agent
    page = client.get(reverse("conversation", kwargs={"pk": conversation.pk}))
    assert f'<option value="{other_agent.pk}" selected>' in page.content.decode()
    # Someone who is not an agent of the company: refused, nothing changes.
    client.post(url, {"assignee": UserFactory(company=CompanyFactory()).pk})
    conversation.refresh_from_db()
    assert conversation.assigned_to == other_agent
    client.post(url, {"assignee": ""})
    conversation.refresh_from_db()
    assert conversation.assigned_to is None


# --- query counts -------------------------------------------------------------------


def _fill(number, agent, n):
    for i in range(n):
        conversation = conversation_with(number, name=f"C{i}", last_inbound_at=T)
        message(conversation, body=f"hello {i}")
        conversation_assign(conversation=conversation, assignee=agent, by=agent)


@pytest.mark.parametrize(
    "params", [{}, {"q": "hello"}, {"unread": "on", "window": "closing"}]
)
def test_the_list_costs_the_same_queries_for_one_or_many_conversations(
    client, agent, number, django_assert_num_queries, params
):
    client.force_login(agent)
    _fill(number, agent, 1)
    client.get(reverse("inbox"), params)  # warm caches (session, content types)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        client.get(reverse("inbox"), params)
    _fill(number, agent, 12)
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(reverse("inbox"), params)
    assert len(rows(response)) == (13 if not params.get("window") else 0)


# --- the thread: newest first, older pages, the live part ---------------------------


def test_the_thread_opens_at_the_newest_and_pages_upwards(client, reader, number):
    conversation = conversation_with(number)
    msgs = [
        message(conversation, body=f"m{i:02d}", at=T - timedelta(minutes=70 - i))
        for i in range(70)
    ]
    client.force_login(reader)
    page = client.get(reverse("conversation", kwargs={"pk": conversation.pk}))
    assert [m.body for m in page.context["thread"]] == [
        f"m{i:02d}" for i in range(20, 70)
    ]
    html = page.content.decode()
    older_url = reverse("conversation-older", kwargs={"pk": conversation.pk})
    assert f'hx-get="{older_url}?before={msgs[20].pk}"' in html
    older = client.get(older_url, {"before": msgs[20].pk})
    body = older.content.decode()
    assert [f"m{i:02d}" in body for i in (0, 19)] == [True, True]
    assert "m20" not in body
    assert "Load older messages" not in body  # nothing before m00


def test_the_live_part_brings_new_messages_and_status_changes(client, reader, number):
    conversation = conversation_with(number, last_inbound_at=T - HOUR)
    first = message(conversation, body="first", at=T - HOUR)
    sent = message(conversation, direction="out", body="answer", at=T - HOUR + TICK)
    client.force_login(reader)
    live_url = reverse("conversation-live", kwargs={"pk": conversation.pk})
    before = client.get(live_url, {"since": first.pk, "open": "1"}).content.decode()
    assert "✓ Sent" in before
    message(conversation, body="a new question", at=T)
    Message.objects.filter(pk=sent.pk).update(status="delivered")
    after = client.get(live_url, {"since": first.pk, "open": "1"}).content.decode()
    assert "a new question" in after
    assert "✓✓ Delivered" in after
    assert 'id="window-state" hx-swap-oob="true"' in after
    assert "composer-reload" not in after  # the window was and is open
    assert not ConversationRead.objects.exists()


def test_the_live_part_says_when_the_window_opened_since_the_page_loaded(
    client, reader, number
):
    conversation = conversation_with(number, last_inbound_at=T - HOUR)
    client.force_login(reader)
    live = client.get(
        reverse("conversation-live", kwargs={"pk": conversation.pk}), {"open": "0"}
    ).content.decode()
    assert "the window is open again" in live


def test_a_new_inbound_message_reaches_the_live_part_from_the_webhook(
    client, reader, number
):
    payload = whatsapp.inbound_payload(
        phone_number_id=number.phone_number_id,
        wa_id="34600111222",
        wamid="wamid.first",
        at=T - HOUR,
        text="Hello there",
    )
    with whatsapp.on_commit():
        assert whatsapp.post(client, payload).status_code == 200
    conversation = Conversation.objects.get()
    client.force_login(reader)
    page = client.get(reverse("conversation", kwargs={"pk": conversation.pk}))
    since = page.context["since_id"]
    payload = whatsapp.inbound_payload(
        phone_number_id=number.phone_number_id,
        wa_id="34600111222",
        wamid="wamid.second",
        at=T,
        text="Are you there?",
    )
    with whatsapp.on_commit():
        assert whatsapp.post(client, payload).status_code == 200
    live = client.get(
        reverse("conversation-live", kwargs={"pk": conversation.pk}),
        {"since": since, "open": "1"},
    ).content.decode()
    assert "Hello there" in live and "Are you there?" in live


# --- countdown, failures, zone, template labels -------------------------------------


def test_the_countdown_has_the_closing_instant_and_a_server_text(client, agent, number):
    conversation = conversation_with(
        number, last_inbound_at=T - timedelta(hours=21, minutes=58)
    )
    client.force_login(agent)
    html = client.get(
        reverse("conversation", kwargs={"pk": conversation.pk})
    ).content.decode()
    # Closes at 14:02 UTC: 16:02 in Madrid.
    assert 'data-closes-at="2026-06-01T16:02:00+02:00"' in html
    assert "Open, closes in 2 h 2 min" in html
    assert "until 16:02" in html


def test_a_failed_message_says_why_and_offers_a_template(client, agent, number):
    conversation = conversation_with(number, last_inbound_at=T - timedelta(days=2))
    MessageTemplateFactory(company=number.company)
    message(
        conversation,
        direction="out",
        body="Are you still interested?",
        sender=agent,
        status="failed",
        error_code=131047,
        error_title="Re-engagement message",
    )
    client.force_login(agent)
    html = client.get(
        reverse("conversation", kwargs={"pk": conversation.pk})
    ).content.decode()
    assert "More than 24 hours have passed since the contact last wrote" in html
    assert "(code 131047)" in html
    assert "Send as template instead" in html


def test_an_undeliverable_message_offers_no_template(client, agent, number):
    conversation = conversation_with(number, last_inbound_at=T - HOUR)
    MessageTemplateFactory(company=number.company)
    message(
        conversation,
        direction="out",
        sender=agent,
        status="failed",
        error_code=131026,
    )
    client.force_login(agent)
    html = client.get(
        reverse("conversation", kwargs={"pk": conversation.pk})
    ).content.decode()
    assert "may not be on WhatsApp" in html
    assert "Send as template instead" not in html


def test_template_params_are_labelled_with_the_templates_names_and_examples(
    client, agent, number
):
    conversation = conversation_with(number, last_inbound_at=T - HOUR)
    template = MessageTemplateFactory(
        company=number.company,
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
    client.force_login(agent)
    html = client.get(
        reverse("conversation", kwargs={"pk": conversation.pk})
    ).content.decode()
    assert "first_name" in html and "order_id" in html
    assert 'placeholder="Maria"' in html
    assert f'data-body="{template.body}"' in html  # the live preview's source


@pytest.mark.parametrize(
    ("left", "badge", "text"),
    [
        (timedelta(hours=1, minutes=1), "Window open", "Open, closes in 1 h 1 min"),
        (timedelta(hours=1), "Window closing", "Open, closes in 1 h 0 min"),
        (timedelta(minutes=1), "Window closing", "Open, closes in 0 h 1 min"),
        (timedelta(0), "Window closed", "Closed since"),
    ],
)
def test_the_window_state_at_its_closing_edges(
    client, agent, number, left, badge, text
):
    conversation = conversation_with(
        number, last_inbound_at=T - timedelta(hours=24) + left
    )
    client.force_login(agent)
    html = client.get(
        reverse("conversation", kwargs={"pk": conversation.pk})
    ).content.decode()
    assert badge in html
    assert text in html
    assert ("countdown" in html) is (left > timedelta(0))


def test_the_admin_shows_the_assignment_trail(admin_client, agent, number):
    conversation = conversation_with(number)
    conversation_assign(conversation=conversation, assignee=agent, by=agent)
    url = reverse("admin:messaging_conversation_change", args=[conversation.pk])
    html = admin_client.get(url).content.decode()
    assert "Luis Pérez" in html


@pytest.mark.parametrize(
    ("ago", "found"),
    [
        (timedelta(0), True),
        (timedelta(hours=24) - TICK, True),
        (timedelta(hours=24), False),  # an answer now is too late (F2: within 24 h)
    ],
)
def test_referrals_an_answer_could_still_turn_into_a_free_window(number, ago, found):
    from messaging.windows import entry_point_referrals

    conversation = conversation_with(number)
    message(conversation, at=T - ago, referral={"source_type": "ad"})
    answer_opens = rules.entry_point_window(referral_at=T - ago, first_answer_at=T)
    assert (answer_opens is not None) is found
    assert (
        entry_point_referrals(conversation_ref=conversation.pk, at_ref=T).exists()
        is found
    )
