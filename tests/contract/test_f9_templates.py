"""F9 templates follow the provider.

The provider's message_template_status_update webhook sets a template's status
(the latest by the provider's time wins) and template_category_update its
category. A paused or disabled template is never sent, with its own error code;
a move to a dearer category (utility < authentication < marketing) is flagged
for Customer Success and the company's admins, and messages already sent keep
the category they were sent in (C2-C4).
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from messaging import rules
from messaging.exceptions import TemplateDisabled, TemplatePaused
from messaging.models import Message
from tests import whatsapp
from tests.billing_world import World

pytestmark = pytest.mark.django_db

T = datetime(2026, 6, 1, 10, tzinfo=UTC)


def _template_webhook(world, field: str, value: dict, at: datetime):
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": world.number.waba_id,
                "time": int(at.timestamp()),
                "changes": [{"field": field, "value": value}],
            }
        ],
    }
    with time_machine.travel(at + timedelta(seconds=5), tick=False):
        assert whatsapp.post(world.client, payload).status_code == 200


def _status(world, template, event: str, at: datetime):
    _template_webhook(
        world,
        "message_template_status_update",
        {
            "event": event,
            "message_template_id": 42,
            "message_template_name": template.name,
            "message_template_language": template.language,
            "reason": "NONE",
        },
        at,
    )


@pytest.fixture
def world(client):
    return World(client, start=T)


@pytest.mark.parametrize(
    "event,error,code",
    [
        ("PAUSED", TemplatePaused, "template_paused"),
        ("DISABLED", TemplateDisabled, "template_disabled"),
    ],
)
def test_f9_a_paused_or_disabled_template_cannot_be_sent(world, event, error, code):
    template = world.templates["utility"]
    _status(world, template, event, T)
    with pytest.raises(error) as refused:
        world.send_template("utility", T + timedelta(minutes=1))
    assert refused.value.code == code
    assert not Message.objects.exists()


def test_f9_approved_again_it_can_be_sent(world):
    template = world.templates["utility"]
    _status(world, template, "PAUSED", T)
    _status(world, template, "APPROVED", T + timedelta(hours=3))
    assert world.send_template("utility", T + timedelta(hours=4)).status == "accepted"


def test_f9_a_late_report_of_an_older_pause_does_not_pause_it_again(world):
    template = world.templates["utility"]
    _status(world, template, "APPROVED", T + timedelta(hours=3))
    _status(world, template, "PAUSED", T)
    template.refresh_from_db()
    assert template.status == "approved"


def test_f9_a_category_change_applies_to_later_sends_only(world):
    template = world.templates["utility"]
    before = world.send_template("utility", T - timedelta(hours=1))
    _template_webhook(
        world,
        "template_category_update",
        {
            "message_template_id": 42,
            "message_template_name": template.name,
            "message_template_language": template.language,
            "previous_category": "UTILITY",
            "new_category": "MARKETING",
        },
        T,
    )
    after = world.send_template("utility", T + timedelta(hours=1))
    before.refresh_from_db()
    assert (before.template_category, after.template_category) == (
        "utility",
        "marketing",
    )
    assert template.events.get().costs_more is True


@pytest.mark.parametrize(
    "previous,new,dearer",
    [
        ("utility", "marketing", True),
        ("utility", "authentication", True),
        ("authentication", "marketing", True),
        ("marketing", "utility", False),
        ("marketing", "authentication", False),
        ("utility", "utility", False),
        ("utility", "shipping_update", False),
    ],
)
def test_f9_which_category_changes_cost_more(previous, new, dearer):
    assert rules.category_costs_more(previous=previous, new=new) is dearer


@given(
    st.sampled_from(rules.TEMPLATE_CATEGORIES),
    st.sampled_from(rules.TEMPLATE_CATEGORIES),
)
def test_f9_costs_more_is_a_strict_order(a, b):
    # never both ways, and exactly one way between two different categories
    up, down = (
        rules.category_costs_more(previous=a, new=b),
        rules.category_costs_more(previous=b, new=a),
    )
    assert not (up and down)
    assert (up or down) == (a != b)
