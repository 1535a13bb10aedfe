"""The inbox's pure rules: window phases (closing within 1 h), unread, who may be
assigned, failure reasons in plain words and template parameter labels."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import translation

from messaging import rules

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(hours=24)
HOUR = timedelta(hours=1)
TICK = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("at", "phase"),
    [
        (T - TICK, rules.WindowPhase.NEVER),  # written after "at": not yet
        (T, rules.WindowPhase.OPEN),
        (T + DAY - HOUR - TICK, rules.WindowPhase.OPEN),
        (T + DAY - HOUR, rules.WindowPhase.CLOSING),  # one hour left exactly
        (T + DAY - TICK, rules.WindowPhase.CLOSING),
        (T + DAY, rules.WindowPhase.CLOSED),  # closed at exactly 24 h (B1)
    ],
)
def test_the_window_is_closing_in_its_last_hour(at, phase):
    assert rules.window_phase(last_inbound_at=T, at=at) == phase


def test_a_contact_who_never_wrote_has_no_window():
    assert rules.window_phase(last_inbound_at=None, at=T) == rules.WindowPhase.NEVER


@pytest.mark.parametrize(
    ("direction", "message_id", "marker", "unread"),
    [("in", 5, 4, True), ("in", 5, 5, False), ("out", 9, 0, False), ("in", 1, 0, True)],
)
def test_only_the_contacts_messages_after_the_marker_are_unread(
    direction, message_id, marker, unread
):
    assert (
        rules.is_unread(
            direction=direction, message_id=message_id, last_read_message_id=marker
        )
        is unread
    )


@pytest.mark.parametrize(
    ("same", "active", "licensed", "refusal"),
    [
        (True, True, True, None),
        (False, True, True, rules.AssignmentRefusal.OTHER_COMPANY),
        (True, False, True, rules.AssignmentRefusal.INACTIVE),
        (True, True, False, rules.AssignmentRefusal.NOT_LICENSED),
    ],
)
def test_conversations_go_to_licensed_active_agents_of_the_company(
    same, active, licensed, refusal
):
    assert (
        rules.assignment_refusal(
            same_company=same, assignee_active=active, assignee_licensed=licensed
        )
        == refusal
    )


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (131047, "More than 24 hours have passed since the contact last wrote"),
        (470, "More than 24 hours have passed since the contact last wrote"),
        (131026, "may not be on WhatsApp"),
        (131049, "limit on marketing messages"),
        (131051, "does not support this kind of message"),
        (130472, "experiment"),
        (131050, "stopped marketing messages"),
    ],
)
def test_failures_are_explained_in_plain_words(code, words):
    with translation.override("en"):
        reason = rules.failure_reason(error_code=code, error_title="Some title")
    assert words in reason
    assert "Some title" not in reason


def test_failure_reasons_are_translated():
    with translation.override("es"):
        reason = rules.failure_reason(error_code=131047)
    assert "24 horas" in reason


def test_an_unknown_failure_shows_the_providers_title_else_a_generic_text():
    assert rules.failure_reason(error_code=999, error_title="Odd thing") == "Odd thing"
    with translation.override("en"):
        assert rules.failure_reason(error_code=None) == "WhatsApp did not say why."


@pytest.mark.parametrize(
    ("code", "is_template", "offer"),
    [
        (131047, False, True),
        (470, False, True),
        (131047, True, False),  # a template failed: another template won't help
        (131026, False, False),  # undeliverable: no template gets there either
        (131049, False, False),
        (None, False, False),
    ],
)
def test_send_as_template_is_offered_only_where_a_template_gets_past(
    code, is_template, offer
):
    assert rules.failure_template_fix(error_code=code, is_template=is_template) is offer


def test_template_params_take_the_examples_of_the_body_component():
    components = [
        {"type": "HEADER", "format": "TEXT", "text": "Hi"},
        {
            "type": "BODY",
            "text": "Hello {{1}}, order {{2}}",
            "example": {"body_text": [["Maria", "A-17"]]},
        },
    ]
    params = rules.template_params(placeholders=2, components=components)
    assert [(p.number, p.name, p.example) for p in params] == [
        (1, "", "Maria"),
        (2, "", "A-17"),
    ]


def test_template_params_take_the_names_of_named_parameters():
    components = [
        {
            "type": "body",
            "example": {
                "body_text_named_params": [
                    {"param_name": "first_name", "example": "Maria"},
                    {"param_name": "order_id", "example": "A-17"},
                ]
            },
        }
    ]
    params = rules.template_params(placeholders=3, components=components)
    assert [(p.name, p.example) for p in params] == [
        ("first_name", "Maria"),
        ("order_id", "A-17"),
        ("", ""),  # more placeholders than names: the third is unnamed
    ]


@pytest.mark.parametrize(
    "components",
    [None, [], "junk", [{"type": "BODY"}], [{"type": "BODY", "example": "x"}], [1]],
)
def test_template_params_without_usable_components_are_just_numbered(components):
    params = rules.template_params(placeholders=2, components=components)
    assert [(p.number, p.name, p.example) for p in params] == [(1, "", ""), (2, "", "")]
