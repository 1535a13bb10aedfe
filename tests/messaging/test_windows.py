"""The ORM twins of the window rules agree with the pure rules on every edge.

``messaging/windows.py`` is the one SQL home of B1 (``rules.window_is_open``)
and F2 (``rules.entry_point_window``): the inbox filters, the sandbox and
billing's charge query use it. Each case builds the rows in the database,
evaluates the builder (as a subquery of an outer row, as billing's charge query
does, and for a plain conversation and instant, as the inbox and the sandbox
do) and compares it with the pure rule on the same facts.
"""

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.db.models import Exists

from messaging import rules
from messaging.models import Conversation, Message
from messaging.selectors import entry_point_open
from messaging.windows import entry_point_openers, window_open_q, window_openers
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
S = timedelta(seconds=1)
US = timedelta(microseconds=1)
DAY = timedelta(hours=24)
REFERRAL = {"source_type": "ad", "source_id": "1", "ctwa_clid": "clid"}
_wamids = count()


def _message(conversation, direction, at, **fields) -> Message:
    return Message.objects.create(
        company_id=conversation.company_id,
        conversation=conversation,
        direction=direction,
        type="text",
        wamid=f"wamid.WINDOWS{next(_wamids)}",
        provider_timestamp=at,
        status="received" if direction == "in" else "delivered",
        **fields,
    )


def _delivered(conversation, at) -> Message:
    """The outer row: an outbound message delivered at ``at``, sent long before
    (so it is never an answer to a referral of these cases)."""
    return _message(conversation, "out", at - 30 * DAY, delivered_at=at)


def _open_for(builder, *, conversation, outer, at) -> tuple[bool, bool]:
    """The builder's answer as a subquery of ``outer`` (delivered at ``at``) and
    for the plain conversation and instant."""
    as_subquery = (
        Message.objects.filter(pk=outer.pk)
        .annotate(
            open=Exists(
                builder(conversation_ref="conversation_id", at_ref="delivered_at")
            )
        )
        .get()
        .open
    )
    as_values = builder(conversation_ref=conversation.pk, at_ref=at).exists()
    return as_subquery, as_values


# --- B1: the 24 h customer service window ---------------------------------------

# t - t_in; None: no inbound message.
B1_CASES = {
    "t_in = t": timedelta(0),
    "a microsecond after t_in": US,
    "24h - 1µs": DAY - US,
    "24h - 1s": DAY - S,
    "24h": DAY,
    "24h + 1s": DAY + S,
    "days later": 3 * DAY,
    "t_in 1s after t (future)": -S,
    "t_in a day after t (future)": -DAY,
    "no inbound message": None,
}


@pytest.mark.parametrize("age", B1_CASES.values(), ids=B1_CASES.keys())
def test_b1_window_openers_agree_with_window_is_open(age):
    conversation = ConversationFactory()
    t_in = None if age is None else T - age
    if t_in is not None:
        _message(conversation, "in", t_in)
    _message(conversation, "out", T - H)  # outbound messages open nothing (B2)
    outer = _delivered(conversation, T)
    expected = rules.window_is_open(last_inbound_at=t_in, at=T)
    assert _open_for(window_openers, conversation=conversation, outer=outer, at=T) == (
        expected,
        expected,
    )


@pytest.mark.parametrize("age", B1_CASES.values(), ids=B1_CASES.keys())
def test_b1_window_open_q_agrees_with_window_is_open(age):
    t_in = None if age is None else T - age
    conversation = ConversationFactory(last_inbound_at=t_in, last_message_at=T)
    got = Conversation.objects.filter(window_open_q(at=T), pk=conversation.pk).exists()
    assert got is rules.window_is_open(last_inbound_at=t_in, at=T)


def test_b1_window_openers_judge_the_latest_inbound_message_at_or_before_t():
    """An expired inbound message and one after t: closed, as the rule says for
    the latest inbound message at or before t; one more inside the window opens it."""
    conversation = ConversationFactory()
    _message(conversation, "in", T - DAY)
    _message(conversation, "in", T + S)
    outer = _delivered(conversation, T)
    assert rules.window_is_open(last_inbound_at=T - DAY, at=T) is False
    assert _open_for(window_openers, conversation=conversation, outer=outer, at=T) == (
        False,
        False,
    )
    _message(conversation, "in", T - DAY + S)
    assert rules.window_is_open(last_inbound_at=T - DAY + S, at=T) is True
    assert _open_for(window_openers, conversation=conversation, outer=outer, at=T) == (
        True,
        True,
    )


# --- F2: free entry point windows ------------------------------------------------

R = T  # the ad-referred inbound message
# (answers after the referral, instant after the referral); an answer before the
# referral is negative.
F2_CASES = {
    "answer at referral, at the answer": ([timedelta(0)], timedelta(0)),
    "answer at referral, 72h - 1s later": ([timedelta(0)], 72 * H - S),
    "answer at referral, 72h later": ([timedelta(0)], 72 * H),
    "answer at referral, before the referral": ([timedelta(0)], -S),
    "answer after 1h, before the answer": ([H], H - S),
    "answer after 24h - 1µs": ([DAY - US], DAY),
    "answer after 24h - 1s, at the answer": ([DAY - S], DAY - S),
    "answer after 24h - 1s, 72h - 1s later": ([DAY - S], DAY - S + 72 * H - S),
    "answer after 24h - 1s, 72h later": ([DAY - S], DAY - S + 72 * H),
    "answer after 24h": ([DAY], DAY),
    "answer after 24h, 1h later": ([DAY], DAY + H),
    "answer after 25h": ([DAY + H], DAY + 2 * H),
    "no answer": ([], H),
    "answer before the referral": ([-S], H),
    "answer before the referral, at the referral": ([-S], timedelta(0)),
    "answers after 1h and 30h, 72h - 1s after the first": ([H, 30 * H], 73 * H - S),
    "answers after 1h and 30h, 72h after the first": ([H, 30 * H], 73 * H),
}


@pytest.mark.parametrize(("answers", "at"), F2_CASES.values(), ids=F2_CASES.keys())
def test_f2_entry_point_openers_agree_with_entry_point_window(answers, at):
    conversation = ConversationFactory()
    _message(conversation, "in", R, referral=REFERRAL)
    for offset in answers:
        _message(conversation, "out", R + offset)
    instant = R + at
    outer = _delivered(conversation, instant)
    later = [R + offset for offset in answers if R + offset >= R]
    window = rules.entry_point_window(
        referral_at=R, first_answer_at=min(later, default=None)
    )
    expected = window is not None and window[0] <= instant < window[1]
    assert _open_for(
        entry_point_openers, conversation=conversation, outer=outer, at=instant
    ) == (expected, expected)
    assert entry_point_open(conversation=conversation, at=instant) is expected


def test_f2_an_inbound_message_without_referral_opens_no_entry_point_window():
    conversation = ConversationFactory()
    _message(conversation, "in", R)
    _message(conversation, "out", R + H)
    outer = _delivered(conversation, R + 2 * H)
    assert _open_for(
        entry_point_openers, conversation=conversation, outer=outer, at=R + 2 * H
    ) == (False, False)
