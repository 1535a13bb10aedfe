"""Starting a conversation: a first template to a number that may never have
written, from the inbox's "New conversation" page or ``POST /api/conversations/``.

The contact and the conversation are created or reused (unique constraints,
get_or_create), in the same transaction as the send, so a refused send leaves
nothing behind. The send itself is ``message_send``'s: A4, B3, F8 and F9 hold as
for every other send, and so do its idempotency keys.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from licensing.services import send_permission_check

from .. import rules
from ..exceptions import InvalidMessage
from ..models import (
    BusinessNumber,
    ContactOptIn,
    Conversation,
    Message,
    MessageTemplate,
)
from .contacts import contact_get_or_create, contact_opt_in_record, phone_parse
from .sending import message_send


@dataclass(frozen=True)
class StartedConversation:
    conversation: Conversation
    message: Message
    contact_created: bool
    conversation_created: bool


def conversation_get_or_create(
    *, business_number: BusinessNumber, wa_id: str, profile_name: str = ""
) -> tuple[Conversation, bool, bool]:
    """Return the conversation of ``business_number`` with the contact of
    ``wa_id`` (both created once, whatever runs at the same time), and whether
    the contact and the conversation were created."""
    contact, contact_created = contact_get_or_create(
        company=business_number.company, wa_id=wa_id, profile_name=profile_name
    )
    conversation, created = Conversation.objects.get_or_create(
        business_number=business_number,
        contact=contact,
        defaults={"company_id": business_number.company_id},
    )
    return conversation, contact_created, created


def conversation_start(
    *,
    sender: User,
    business_number: BusinessNumber,
    to: str,
    template: MessageTemplate,
    params: list[str] | None = None,
    idempotency_key: str | None = None,
    profile_name: str = "",
    opt_in_confirmed: bool = False,
) -> StartedConversation:
    """Send ``template`` from ``business_number`` to the phone number ``to``.

    ``to`` is normalised to E.164 (a national number is read in the business
    number's country); an invalid or unsupported number raises
    InvalidPhoneNumber before anything else. ``opt_in_confirmed`` records, by
    hand and by ``sender``, that the contact opted in to the number (F8).
    Every refusal of ``message_send`` leaves no contact, conversation or
    opt-in behind.
    """
    if business_number.company_id != sender.company_id:
        raise InvalidMessage(_("This business number belongs to another company."))
    if template is None:
        raise InvalidMessage(_("A new conversation starts with an approved template."))
    region = rules.region_of_display_number(business_number.display_phone_number)
    phone = phone_parse(raw=to, region=region)
    with transaction.atomic():
        # A4 first: an unlicensed user creates nothing (message_send checks again).
        send_permission_check(
            user=sender, company=business_number.company, at=timezone.now()
        )
        conversation, contact_created, created = conversation_get_or_create(
            business_number=business_number,
            wa_id=phone.wa_id,
            profile_name=profile_name,
        )
        if opt_in_confirmed:
            contact_opt_in_record(
                contact=conversation.contact,
                business_number=business_number,
                source=ContactOptIn.Source.MANUAL,
                at=timezone.now(),
                recorded_by=sender,
            )
        message = message_send(
            sender=sender,
            conversation=conversation,
            template=template,
            params=params or [],
            idempotency_key=idempotency_key,
        )
    return StartedConversation(
        conversation=conversation,
        message=message,
        contact_created=contact_created,
        conversation_created=created,
    )
