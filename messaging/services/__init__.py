"""Messaging writes: webhook intake and processing, status derivation, sending.

Every send path (web page, JSON API, admin, demo) calls ``message_send``; every
webhook (real or sandbox) goes through ``webhook_receive``.

One module per step: ``intake`` (webhook POSTs, stored deliveries, retries and
dead letters), ``inbound`` (inbound messages and windows), ``statuses`` (status
events and the derived delivery state), ``sending`` (``message_send``), ``inbox`` (assignment and read markers). Callers
import from ``messaging.services``; a test that replaces a function a step calls
patches it where that step looks it up (e.g. ``messaging.services.intake``).
"""

from .contacts import (
    contact_get_or_create,
    contact_opt_in_record,
    contacts_import,
    opt_ins_from_inbound_record,
    phone_parse,
    phone_refusal_message,
)
from .conversations import (
    StartedConversation,
    conversation_get_or_create,
    conversation_start,
)
from .inbound import inbound_messages_record
from .inbox import conversation_assign, conversation_mark_read
from .intake import (
    deliveries_batched,
    deliveries_process_waiting,
    deliveries_retry,
    deliveries_wake_hold,
    deliveries_wake_reset,
    delivery_process,
    delivery_reprocess,
    webhook_receive,
)
from .sending import (
    message_send,
    outbound_message_record,
    template_render,
    window_closed_message,
)
from .statuses import (
    message_delivery_refresh,
    status_batches_record,
    status_orphans_link,
    status_updates_record,
)
from .template_events import template_events_record

__all__ = [
    "conversation_assign",
    "conversation_mark_read",
    "StartedConversation",
    "contact_get_or_create",
    "contact_opt_in_record",
    "contacts_import",
    "conversation_get_or_create",
    "conversation_start",
    "opt_ins_from_inbound_record",
    "phone_parse",
    "phone_refusal_message",
    "template_events_record",
    "deliveries_batched",
    "deliveries_process_waiting",
    "deliveries_retry",
    "deliveries_wake_hold",
    "deliveries_wake_reset",
    "delivery_process",
    "delivery_reprocess",
    "inbound_messages_record",
    "message_delivery_refresh",
    "message_send",
    "outbound_message_record",
    "status_batches_record",
    "status_orphans_link",
    "status_updates_record",
    "template_render",
    "webhook_receive",
    "window_closed_message",
]
