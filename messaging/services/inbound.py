"""Inbound messages: store them once per wamid, create their contacts and
conversations, move the windows forward (B1, B2)."""

from datetime import datetime

from django.db.models.functions import Coalesce, Greatest

from .. import rules
from ..models import BusinessNumber, Contact, Conversation, Message
from ..signals import messages_changed
from ..webhooks import Change
from .contacts import opt_ins_from_inbound_record


def inbound_messages_record(*, number: BusinessNumber, change: Change) -> int:
    """Store inbound messages (once per wamid) and open or refresh windows (B1)."""
    if not change.messages:
        return 0
    company_id = number.company_id
    contacts: dict[str, Contact] = {}
    for wa_id in sorted({m.from_wa_id for m in change.messages}):
        profile = change.profiles.get(wa_id, "")
        contact, created = Contact.objects.get_or_create(
            company_id=company_id,
            wa_id=wa_id,
            defaults={"profile_name": profile, "country": rules.country_of(wa_id)},
        )
        if not created and profile and contact.profile_name != profile:
            contact.profile_name = profile
            contact.save(update_fields=["profile_name", "updated_at"])
        contacts[wa_id] = contact
    conversations: dict[str, Conversation] = {}
    for wa_id, contact in contacts.items():
        conversations[wa_id], _ = Conversation.objects.get_or_create(
            business_number=number, contact=contact, defaults={"company_id": company_id}
        )
    Message.objects.bulk_create(
        [
            Message(
                company_id=company_id,
                conversation=conversations[m.from_wa_id],
                direction=Message.Direction.INBOUND,
                type=m.type,
                body=m.summary,
                wamid=m.wamid,
                provider_timestamp=m.timestamp,
                status=Message.Status.RECEIVED,
                referral=m.referral,
                raw=m.raw,
            )
            # In wamid order, so two deliveries never take index locks in
            # opposite orders.
            for m in sorted(change.messages, key=lambda m: m.wamid)
        ],
        ignore_conflicts=True,
    )
    # F8: writing to the number is the contact's opt-in to it.
    first_inbound: dict[int, datetime] = {}
    for m in change.messages:
        contact_id = contacts[m.from_wa_id].pk
        first_inbound[contact_id] = min(
            first_inbound.get(contact_id, m.timestamp), m.timestamp
        )
    opt_ins_from_inbound_record(number=number, first_inbound=first_inbound)
    latest: dict[int, datetime] = {}
    for m in change.messages:
        conv = conversations[m.from_wa_id]
        if rules.opens_window(direction="in"):
            latest[conv.pk] = max(latest.get(conv.pk, m.timestamp), m.timestamp)
    for conv_pk, ts in sorted(latest.items()):
        # Only moves forward, whatever order the webhooks arrive in (B1). Rows are
        # updated in key order so concurrent deliveries lock them in one order.
        Conversation.objects.filter(pk=conv_pk).update(
            last_inbound_at=Greatest(Coalesce("last_inbound_at", ts), ts),
            last_message_at=Greatest(Coalesce("last_message_at", ts), ts),
        )
    # An inbound message may open a window over deliveries already charged (C3).
    messages_changed.send(
        sender=Message,
        company_id=company_id,
        conversation_ids=sorted({c.pk for c in conversations.values()}),
    )
    return len(change.messages)
