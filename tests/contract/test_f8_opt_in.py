"""F8 opt-in, and A4/B3 for conversations started with a first template.

A contact's opt-in is recorded per business number with its source and instant:
from their first inbound message, from a contact import, or by hand. While the
company requires it (the default; Customer Success may turn it off), a template
sent while the window is closed (business-initiated) to a contact without an
opt-in for that number is refused with a clear error and nothing is sent.
Inside an open window the contact wrote, which is an opt-in already.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from licensing.exceptions import SenderNotLicensed
from licensing.services import license_revoke
from messaging.exceptions import OptInMissing, WindowClosed
from messaging.models import Contact, ContactOptIn, Message
from messaging.services import contact_opt_in_record, conversation_start
from tests.billing_world import World, rate_card

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
M, U = Decimal("0.0615"), Decimal("0.0200")


@pytest.fixture
def world(client):
    rate_card(
        rates={("Spain", "marketing"): M, ("Spain", "utility"): U},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return World(client, start=T, opted_in=False)


def test_f8_a_business_initiated_template_without_opt_in_is_refused(world):
    with pytest.raises(OptInMissing, match="has not opted in"):
        world.send_template("marketing", T)
    assert not Message.objects.exists()


def test_f8_an_imported_opt_in_lets_the_business_write_first(world):
    conversation = world._conversation()
    contact_opt_in_record(
        contact=conversation.contact,
        business_number=world.number,
        source=ContactOptIn.Source.IMPORT,
        at=T - H,
    )
    assert world.send_template("marketing", T).status == "accepted"


def test_f8_an_opt_in_is_per_business_number(world):
    from tests.factories import BusinessNumberFactory

    conversation = world._conversation()
    other = BusinessNumberFactory(company=world.company)
    contact_opt_in_record(
        contact=conversation.contact,
        business_number=other,
        source=ContactOptIn.Source.MANUAL,
        at=T - H,
    )
    with pytest.raises(OptInMissing):
        world.send_template("utility", T)


def test_f8_writing_to_the_number_is_an_opt_in_from_the_first_message(world):
    # when the contact writes twice, the later message arriving first
    world.contact_writes(T + 2 * H)
    world.contact_writes(T + H)
    # then the opt-in is from inbound, at the first message's provider time
    opt_in = ContactOptIn.objects.get()
    assert (opt_in.source, opt_in.opted_in_at) == ("inbound", T + H)
    # and after the window closed, a template may still be sent
    assert world.send_template("utility", T + 30 * H).status == "accepted"


def test_f8_inside_an_open_window_no_opt_in_record_is_needed(world):
    world.contact_writes(T)
    ContactOptIn.objects.all().delete()
    assert world.send_template("utility", T + H).status == "accepted"


def test_f8_the_company_setting_turns_the_check_off(world):
    world.company.whatsapp_opt_in_required = False
    world.company.save()
    assert world.send_template("marketing", T).status == "accepted"


def test_f8_free_form_still_needs_the_window_whatever_the_opt_in(world):
    world.company.whatsapp_opt_in_required = False
    world.company.save()
    with pytest.raises(WindowClosed):
        world.send_text(T)


# --- A4 and B3 for a conversation started with a first template ---------------------


def test_a4_an_unlicensed_user_cannot_start_a_conversation(world):
    with time_machine.travel(T - H, tick=False):
        license_revoke(company=world.company, users=[world.agent], actor=None)
    with time_machine.travel(T, tick=False), pytest.raises(SenderNotLicensed):
        conversation_start(
            sender=world.agent,
            business_number=world.number,
            to="+34 600 111 222",
            template=world.templates["marketing"],
            opt_in_confirmed=True,
        )
    assert not Contact.objects.exists()


def test_b3_a_conversation_starts_only_with_an_approved_template(world):
    template = world.templates["utility"]
    template.status = "pending"
    template.save()
    from messaging.exceptions import TemplateNotSendable

    with time_machine.travel(T, tick=False), pytest.raises(TemplateNotSendable):
        conversation_start(
            sender=world.agent,
            business_number=world.number,
            to="+34 600 111 222",
            template=template,
            opt_in_confirmed=True,
        )
    assert not Contact.objects.exists()


def test_example_1_started_through_the_api_bills_m_plus_u(world, client):
    """Worked example 1, with B's first template sent to a number that never wrote
    through POST /api/conversations/ (opt-in recorded in the same request)."""
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=world.agent).key}"
    )
    # 1. B sends a marketing template → delivered → charged (m)
    with time_machine.travel(T, tick=False):
        response = api.post(
            reverse("api-conversation-list"),
            {
                "from_number": world.number.pk,
                "to": "+34 600 111 222",
                "template": world.templates["marketing"].pk,
                "opt_in": True,
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    assert response.json()["conversation"]["contact"]["wa_id"] == world.wa_id
    world.conversation = world._conversation()
    world.deliver(Message.objects.get(pk=response.json()["message"]["id"]))
    # 2. B sends a utility template → delivered → charged (u): no window is open
    world.send_and_deliver("utility", T + H)
    # 3. C replies → free; a 24-hour window opens
    world.contact_writes(T + 2 * H)
    # 4. B sends a free-form message → free
    world.deliver(world.send_text(T + 3 * H), T + 3 * H + timedelta(seconds=2))
    # 5. B sends a utility template → free (window open)
    world.send_and_deliver("utility", T + 4 * H)
    # 6. C replies → free; the window is refreshed
    world.contact_writes(T + 5 * H)

    invoice = world.invoice(date(2026, 10, 1))
    assert invoice.total == Decimal("0.08")  # 0.0615 + 0.0200 → lines 0.06 + 0.02
    assert Contact.objects.count() == 1
