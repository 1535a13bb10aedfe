"""The messaging demo data, loaded by ``manage.py demo_seed``."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Company, User
from messaging import demo, rules
from messaging.models import (
    BusinessNumber,
    Contact,
    Conversation,
    Message,
    MessageTemplate,
    WebhookDelivery,
)
from tests import whatsapp

pytestmark = pytest.mark.django_db

MODELS = [BusinessNumber, MessageTemplate, Contact, Conversation, Message]


def demo_seed():
    # Statuses of today's sends arrive after commit, as the sandbox provider sends them.
    with whatsapp.on_commit():
        call_command("demo_seed", stdout=StringIO())


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture
def seeded():
    demo_seed()


def test_running_the_demo_twice_changes_nothing(seeded):
    first = counts()
    demo_seed()
    assert counts() == first
    assert first["Message"] > 20


def test_every_demo_company_gets_numbers_templates_and_conversations(seeded):
    for slug in demo.COMPANIES:
        company = Company.objects.get(slug=slug)
        assert company.business_numbers.exists()
        assert company.conversations.count() >= 5
        categories = set(
            company.templates.filter(status="approved").values_list(
                "category", flat=True
            )
        )
        assert categories == {"marketing", "utility", "authentication"}
        assert company.templates.filter(status="pending").exists()
    ids = list(BusinessNumber.objects.values_list("phone_number_id", flat=True))
    assert len(ids) == len(set(ids))


def test_contacts_come_from_several_markets(seeded):
    countries = set(Contact.objects.values_list("country", flat=True))
    assert {"ES", "MX", "US", "DO", "IN", ""} <= countries


def test_inbound_messages_came_through_the_webhook_intake(seeded):
    inbound = Message.objects.filter(direction="in")
    assert inbound.exists()
    assert all(m.raw and m.raw["type"] == "text" for m in inbound)
    assert not WebhookDelivery.objects.exclude(
        status=WebhookDelivery.Status.PROCESSED
    ).exists()
    oldest = inbound.order_by("provider_timestamp").first().provider_timestamp
    assert (timezone.now() - oldest).days >= 38


def test_outbound_messages_are_delivered_except_the_undeliverable_one(seeded):
    outbound = Message.objects.filter(direction="out")
    assert outbound.filter(delivered_at__isnull=False).count() >= 15
    failed = outbound.filter(status="failed")
    assert failed.count() == len(demo.COMPANIES)
    assert all(m.conversation.contact.wa_id.endswith("0000") for m in failed)
    assert set(failed.values_list("error_code", flat=True)) == {131026}
    # Every outbound message has a licensed agent of its company as sender.
    assert not outbound.filter(sender__isnull=True).exists()
    for message in outbound.select_related("sender"):
        assert message.sender.company_id == message.company_id


def test_windows_are_open_and_closed_and_templates_sent_inside_and_outside(seeded):
    now = timezone.now()
    states = {
        rules.window_is_open(last_inbound_at=c.last_inbound_at, at=now)
        for c in Conversation.objects.all()
    }
    assert states == {True, False}
    inside, outside = set(), set()
    for message in Message.objects.filter(direction="out", delivered_at__isnull=False):
        if message.template_category:
            conversation = message.conversation
            latest = (
                conversation.messages.filter(
                    direction="in", provider_timestamp__lte=message.delivered_at
                )
                .order_by("-provider_timestamp")
                .values_list("provider_timestamp", flat=True)
                .first()
            )
            is_open = rules.window_is_open(
                last_inbound_at=latest, at=message.delivered_at
            )
            (inside if is_open else outside).add(message.template_category)
    assert {"marketing", "utility"} <= inside
    assert {"marketing", "utility"} <= outside


def test_free_form_messages_were_only_sent_inside_a_window(seeded):
    for message in Message.objects.filter(direction="out", template__isnull=True):
        latest = (
            message.conversation.messages.filter(
                direction="in", provider_timestamp__lte=message.provider_timestamp
            )
            .order_by("-provider_timestamp")
            .values_list("provider_timestamp", flat=True)
            .first()
        )
        assert rules.window_is_open(
            last_inbound_at=latest, at=message.provider_timestamp
        )


def test_todays_messages_are_sent_now_through_the_send_service():
    # given
    started = timezone.now()
    scripted_now = [
        step
        for spec in demo.COMPANIES.values()
        for script in spec["scripts"]
        for step in script.steps
        if step.ago is None
    ]
    # when
    demo_seed()
    # then
    sent_now = Message.objects.filter(provider_timestamp__gte=started)
    assert sent_now.count() == len(scripted_now)
    assert set(sent_now.values_list("direction", flat=True)) == {"out"}
    assert not sent_now.filter(delivered_at__isnull=True).exists()


def test_a_company_without_licensed_agents_is_skipped():
    company = Company.objects.create(
        slug="acme-iberia", name="Acme", billing_email="a@example.com", country="ES"
    )
    User.objects.create_user("reader@example.com", company=company)
    cs = User.objects.create_user("cs@example.com", is_staff=True)
    assert demo.seed(actor=cs) == {}
    assert not BusinessNumber.objects.exists()
