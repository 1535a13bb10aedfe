"""Row locks of messaging, one named function per lock (as ``accounts/locks.py``).

Every lock is FOR NO KEY UPDATE: it serialises writers of the row but lets
through the FOR KEY SHARE locks that foreign-key checks take (a status event or
a charge referencing a message), which would otherwise deadlock with invoice
computation. Order within one transaction: the webhook delivery, then the
conversations, then the messages; ``accounts/locks.py`` states how this order
sits with the company, invoice and sequence locks.
"""

from collections.abc import Iterable

from .models import Conversation, Message, MessageTemplate, WebhookDelivery


def delivery_lock(pk: int) -> WebhookDelivery:
    """Lock and return a stored webhook delivery: one worker processes it at a
    time, so a retry waits for the processing under way."""
    return WebhookDelivery.objects.select_for_update(no_key=True).get(pk=pk)


def deliveries_claim(limit: int) -> list[tuple[int, str]]:
    """Lock and return (pk, body) of up to ``limit`` received deliveries that no
    other transaction holds, oldest first: concurrent workers each claim their
    own (FOR NO KEY UPDATE SKIP LOCKED), so a delivery is processed by one of
    them. PostgreSQL only (``has_select_for_update_skip_locked``)."""
    return list(
        WebhookDelivery.objects.select_for_update(skip_locked=True, no_key=True)
        .filter(status=WebhookDelivery.Status.RECEIVED)
        .order_by("pk")
        .values_list("pk", "body")[:limit]
    )


def conversation_lock(pk: int) -> Conversation:
    """Lock and return a conversation with its number, contact and company.

    One sender at a time per conversation: double submits and the window
    check see each other. Only the conversation row is locked (not the joined
    company), and FOR NO KEY UPDATE lets foreign-key checks through.
    """
    return (
        Conversation.objects.select_for_update(no_key=True, of=("self",))
        .select_related("business_number", "contact", "company")
        .get(pk=pk)
    )


def messages_lock(wamids: Iterable[str], *, company_id: int) -> list[Message]:
    """Lock the messages with these wamids and return the company's, by pk.

    So concurrent status batches serialise per message, and in primary-key
    order so two batches never lock the same messages in opposite orders. By
    wamid alone in SQL (unique index), the company in Python: a company filter
    in SQL makes the planner AND a bitmap of all the company's messages. A
    wamid of another company's message locks that row too but never returns it.
    """
    return [m for m in messages_lock_any(wamids) if m.company_id == company_id]


def messages_lock_any(wamids: Iterable[str]) -> list[Message]:
    """Lock the messages with these wamids, whatever their company, by pk (as
    ``messages_lock``): for a batch of statuses posted for several companies,
    each matched to its own company's messages by the caller."""
    return list(
        Message.objects.select_for_update(no_key=True)
        .filter(wamid__in=wamids)
        .order_by("pk")
        .only(*_DELIVERY_FIELDS)
    )


# What deriving a message's delivery state reads (statuses.message_delivery_refresh);
# the rest of the row (body, raw payload) is not loaded.
_DELIVERY_FIELDS = (
    "company_id",
    "conversation_id",
    "wamid",
    "status",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "error_code",
    "error_title",
    "pricing",
)


def template_lock(pk: int) -> MessageTemplate:
    """Lock and return a message template: template webhooks of one template
    are applied one at a time, so its derived status and category see every
    event stored before."""
    return MessageTemplate.objects.select_for_update(no_key=True).get(pk=pk)
