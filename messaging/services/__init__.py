"""Messaging writes, re-exported from the modules that hold them."""

from .intake import (
    deliveries_retry,
    delivery_process,
    delivery_reprocess,
    inbound_messages_record,
    message_delivery_refresh,
    message_send,
    outbound_message_record,
    status_orphans_link,
    status_updates_record,
    template_render,
    webhook_receive,
)

__all__ = [
    "deliveries_retry",
    "delivery_process",
    "delivery_reprocess",
    "inbound_messages_record",
    "message_delivery_refresh",
    "message_send",
    "outbound_message_record",
    "status_orphans_link",
    "status_updates_record",
    "template_render",
    "webhook_receive",
]
