"""Data migrations that fill new columns from the facts already stored."""

import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

# The company's columns added later (legal name, tax ID) are not in this
# schema's Company, so accounts goes back to the migration of that time too.
BEFORE = [
    ("messaging", "0002_message_referral_index"),
    ("accounts", "0002_user_session_epoch"),
]
AFTER = [("messaging", "0003_status_event_company_and_idempotency_scope")]
T = datetime(2026, 10, 6, 9, tzinfo=UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def _latest_schema_after():
    """Leave the database at the latest migrations for the tests that follow."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_contacts_who_wrote_opt_in_from_their_first_inbound_message():
    # given the schema before opt-ins: a contact who wrote twice to one number,
    # and one who only ever received a template
    apps = migrate(
        [("accounts", "0005_company_whatsapp_opt_in_required")]
        + [("messaging", "0005_contact_opt_ins_and_template_events")]
    )
    Company = apps.get_model("accounts", "Company")
    Number = apps.get_model("messaging", "BusinessNumber")
    Contact = apps.get_model("messaging", "Contact")
    Conversation = apps.get_model("messaging", "Conversation")
    Message = apps.get_model("messaging", "Message")
    acme = Company.objects.create(name="Acme", slug="acme-optin")
    number = Number.objects.create(
        company=acme, phone_number_id="PN-O", display_phone_number="34910000001"
    )
    wrote = Conversation.objects.create(
        company=acme,
        business_number=number,
        contact=Contact.objects.create(company=acme, wa_id="34600000001"),
    )
    silent = Conversation.objects.create(
        company=acme,
        business_number=number,
        contact=Contact.objects.create(company=acme, wa_id="34600000002"),
    )
    for i, (conversation, direction, hours) in enumerate(
        [(wrote, "in", 5), (wrote, "in", 2), (wrote, "out", 1), (silent, "out", 0)]
    ):
        Message.objects.create(
            company=acme,
            conversation=conversation,
            direction=direction,
            type="text",
            wamid=f"wamid.MIG{i}",
            provider_timestamp=T.replace(hour=hours),
            status="received" if direction == "in" else "delivered",
        )
    # when
    apps = migrate([("messaging", "0006_opt_ins_from_existing_inbound_messages")])
    # then
    OptIn = apps.get_model("messaging", "ContactOptIn")
    assert list(
        OptIn.objects.values_list(
            "contact__wa_id", "business_number_id", "source", "opted_in_at"
        )
    ) == [("34600000001", number.pk, "inbound", T.replace(hour=2))]


def test_status_events_get_the_company_of_their_message_or_of_their_number():
    # given: the schema before, with a linked event and an orphan posted for a number
    apps = migrate(BEFORE)
    Company = apps.get_model("accounts", "Company")
    Number = apps.get_model("messaging", "BusinessNumber")
    Contact = apps.get_model("messaging", "Contact")
    Conversation = apps.get_model("messaging", "Conversation")
    Message = apps.get_model("messaging", "Message")
    Event = apps.get_model("messaging", "MessageStatusEvent")
    Delivery = apps.get_model("messaging", "WebhookDelivery")
    acme = Company.objects.create(name="Acme", slug="acme-mig")
    globex = Company.objects.create(name="Globex", slug="globex-mig")
    number_a = Number.objects.create(
        company=acme, phone_number_id="PN-A", display_phone_number="1"
    )
    Number.objects.create(
        company=globex, phone_number_id="PN-G", display_phone_number="2"
    )
    conversation = Conversation.objects.create(
        company=acme,
        business_number=number_a,
        contact=Contact.objects.create(company=acme, wa_id="34600000001"),
    )
    message = Message.objects.create(
        company=acme,
        conversation=conversation,
        direction="out",
        type="template",
        wamid="wamid.LINKED",
        provider_timestamp=T,
        status="delivered",
    )
    body = {
        "entry": [
            {
                "changes": [
                    {
                        "value": {
                            "metadata": {"phone_number_id": "PN-G"},
                            "statuses": [{"id": "wamid.ORPHAN", "status": "sent"}],
                        }
                    }
                ]
            }
        ]
    }
    delivery = Delivery.objects.create(body=json.dumps(body), body_sha256="x" * 64)
    Event.objects.create(
        wamid="wamid.LINKED", status="delivered", timestamp=T, message=message
    )
    Event.objects.create(
        wamid="wamid.ORPHAN", status="sent", timestamp=T, delivery=delivery
    )
    keyed = Message.objects.create(
        company=acme,
        conversation=conversation,
        direction="out",
        type="text",
        body="On its way",
        wamid="wamid.KEYED",
        provider_timestamp=T,
        status="accepted",
        idempotency_key="order-1",
    )
    # when
    apps = migrate(AFTER)
    # then
    Event = apps.get_model("messaging", "MessageStatusEvent")
    assert dict(Event.objects.values_list("wamid", "company__slug")) == {
        "wamid.LINKED": "acme-mig",
        "wamid.ORPHAN": "globex-mig",
    }
    # and a key used before the upgrade still replays its message
    from messaging.rules import send_fingerprint

    Message = apps.get_model("messaging", "Message")
    assert Message.objects.get(pk=keyed.pk).idempotency_fingerprint == send_fingerprint(
        conversation_id=conversation.pk, text="On its way", template_id=None, params=[]
    )
