"""Templates follow the provider (F9): the message_template_status_update and
template_category_update webhooks, through the real endpoint."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from messaging.exceptions import PayloadError
from messaging.models import MessageTemplate, TemplateEvent, WebhookDelivery
from messaging.template_webhooks import template_update_parse
from tests import whatsapp
from tests.factories import (
    BusinessNumberFactory,
    CompanyAdminFactory,
    MessageTemplateFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db

T = datetime(2026, 6, 1, 10, tzinfo=UTC)  # the fixtures' entry.time
WABA = "102290129340398"


@pytest.fixture
def template():
    number = BusinessNumberFactory(waba_id=WABA)
    return MessageTemplateFactory(
        company=number.company,
        name="order_confirmation",
        language="en_US",
        category="utility",
        body="Order {{1}} confirmed.",
    )


def post(client, payload):
    with time_machine.travel(T + timedelta(minutes=1), tick=False):
        response = whatsapp.post(client, payload)
    assert response.status_code == 200, response.content
    return response


def status_event(event: str, *, at: datetime = T, **value) -> dict:
    payload = whatsapp.fixture("template_status_update_paused__meta_docs_syntax.json")
    payload["entry"][0]["time"] = int(at.timestamp())
    payload["entry"][0]["changes"][0]["value"].update(event=event, **value)
    return payload


def test_a_paused_template_is_paused(client, template):
    post(
        client, whatsapp.fixture("template_status_update_paused__meta_docs_syntax.json")
    )
    template.refresh_from_db()
    assert template.status == MessageTemplate.Status.PAUSED
    assert template.provider_template_id == "1689556908129832"
    event = TemplateEvent.objects.get()
    assert (event.kind, event.event, event.occurred_at) == ("status", "PAUSED", T)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert delivery.result["templates"] == {"recorded": 1, "unknown_templates": []}
    assert delivery.result["ignored_fields"] == []


@pytest.mark.parametrize(
    "event,status",
    [
        ("APPROVED", "approved"),
        ("REJECTED", "rejected"),
        ("DISABLED", "disabled"),
        ("PAUSED", "paused"),
        ("PENDING_DELETION", "pending_deletion"),
        ("REINSTATED", "approved"),
        ("FLAGGED", "flagged"),
        ("IN_APPEAL", "in_appeal"),
    ],
)
def test_every_status_event_sets_the_status(client, template, event, status):
    post(client, status_event(event))
    template.refresh_from_db()
    assert template.status == status


def test_an_event_that_sets_no_status_leaves_it(client, template):
    post(client, status_event("LOCKED"))
    template.refresh_from_db()
    assert template.status == MessageTemplate.Status.APPROVED
    assert TemplateEvent.objects.get().event == "LOCKED"


def test_out_of_order_status_events_end_in_the_latest_by_provider_time(
    client, template
):
    # the approval after the pause arrives first
    post(client, status_event("APPROVED", at=T + timedelta(hours=3)))
    post(client, status_event("PAUSED", at=T))
    template.refresh_from_db()
    assert template.status == MessageTemplate.Status.APPROVED


def test_a_replayed_webhook_is_stored_once(client, template):
    payload = status_event("PAUSED")
    post(client, payload)
    post(client, payload)
    assert TemplateEvent.objects.count() == 1


def test_matched_by_name_and_language_only_in_the_business_account(client, template):
    # given another company's template of the same name, in another account
    other = MessageTemplateFactory(
        company=BusinessNumberFactory(waba_id="999").company,
        name="order_confirmation",
        language="en_US",
    )
    post(client, status_event("DISABLED"))
    template.refresh_from_db()
    other.refresh_from_db()
    assert template.status == "disabled"
    assert other.status == "approved"


def test_an_unknown_template_is_kept_in_the_delivery(client, template):
    post(
        client,
        status_event("PAUSED", message_template_name="no_such", message_template_id=1),
    )
    assert not TemplateEvent.objects.exists()
    delivery = WebhookDelivery.objects.get()
    assert delivery.result["templates"]["unknown_templates"] == ["no_such (en_US)"]


def test_a_category_change_to_marketing_costs_more(client, template):
    post(client, whatsapp.fixture("template_category_update__meta_docs_syntax.json"))
    template.refresh_from_db()
    assert template.category == "marketing"
    event = TemplateEvent.objects.get()
    assert (event.kind, event.previous_category, event.new_category) == (
        "category",
        "utility",
        "marketing",
    )
    assert event.costs_more is True


def test_a_category_change_to_a_cheaper_category_is_not_flagged(client, template):
    template.category = "marketing"
    template.save()
    payload = whatsapp.fixture("template_category_update__meta_docs_syntax.json")
    value = payload["entry"][0]["changes"][0]["value"]
    value.update(previous_category="MARKETING", new_category="UTILITY")
    post(client, payload)
    template.refresh_from_db()
    assert template.category == "utility"
    assert TemplateEvent.objects.get().costs_more is False


def test_an_announced_category_change_changes_nothing_yet(client, template):
    post(
        client,
        whatsapp.fixture("template_category_update_impending__meta_docs_syntax.json"),
    )
    template.refresh_from_db()
    assert template.category == "utility"
    event = TemplateEvent.objects.get()
    assert event.kind == "category_notice"
    assert event.occurred_at == T + timedelta(days=1)
    assert (event.previous_category, event.new_category, event.costs_more) == (
        "utility",
        "marketing",
        True,
    )


def test_messages_sent_before_keep_their_category(client, template):
    from messaging.services import message_send
    from tests.factories import ConversationFactory, licensed_user

    conversation = ConversationFactory(
        business_number=template.company.business_numbers.get()
    )
    with time_machine.travel(T - timedelta(days=40), tick=False):
        agent = licensed_user(template.company)
    with time_machine.travel(T - timedelta(hours=1), tick=False):
        message = message_send(
            sender=agent, conversation=conversation, template=template, params=["7"]
        )
    post(client, whatsapp.fixture("template_category_update__meta_docs_syntax.json"))
    message.refresh_from_db()
    assert message.template_category == "utility"


@pytest.mark.parametrize(
    "change,words",
    [
        ({"event": None}, "event is missing"),
        ({"event": 7}, None),
        (
            {"message_template_name": None, "message_template_id": None},
            "names no template",
        ),
        ({"message_template_id": [1]}, "must be a string"),
    ],
)
def test_a_malformed_template_change_is_refused_with_400(
    client, template, change, words
):
    payload = whatsapp.fixture("template_status_update_paused__meta_docs_syntax.json")
    value = payload["entry"][0]["changes"][0]["value"]
    for key, item in change.items():
        if item is None:
            value.pop(key, None)
        else:
            value[key] = item
    response = whatsapp.post(client, payload)
    if words is None:
        # an int event is read as its text: not a status we know, stored, ignored
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert words in response.json()["error"]
    assert not WebhookDelivery.objects.exists()


def test_the_entry_time_is_required():
    with pytest.raises(PayloadError, match="time"):
        template_update_parse(
            entry={"id": WABA},
            field="message_template_status_update",
            value={"event": "APPROVED", "message_template_name": "x"},
            where="entry[0].changes[0]",
        )


# --- shown to Customer Success and to the company's admins --------------------------


def test_customer_success_see_the_dearer_category_in_the_admin(client, template):
    post(client, whatsapp.fixture("template_category_update__meta_docs_syntax.json"))
    client.force_login(StaffUserFactory(is_superuser=True))
    with time_machine.travel(T + timedelta(days=1), tick=False):
        page = client.get(
            reverse("admin:messaging_messagetemplate_changelist"), {"costlier": "yes"}
        )
    html = page.content.decode()
    assert "order_confirmation" in html
    assert "1 template(s) moved to a more expensive category" in html


def test_the_company_admin_sees_a_notice_on_the_home_page(client, template):
    post(client, whatsapp.fixture("template_category_update__meta_docs_syntax.json"))
    admin = CompanyAdminFactory(company=template.company)
    client.force_login(admin)
    with time_machine.travel(T + timedelta(days=1), tick=False):
        page = client.get(reverse("home")).content.decode()
    assert "WhatsApp moved templates to a more expensive category" in page
    assert (
        "order_confirmation is Marketing since 1 Jun 2026, 10:00 (was Utility)." in page
    )


def test_agents_and_other_companies_see_no_notice(client, template):
    post(client, whatsapp.fixture("template_category_update__meta_docs_syntax.json"))
    from tests.factories import UserFactory

    for user in (UserFactory(company=template.company), CompanyAdminFactory()):
        client.force_login(user)
        page = client.get(reverse("home")).content.decode()
        assert "more expensive category" not in page
