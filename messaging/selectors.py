from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Max, QuerySet

from accounts.models import User

from . import rules
from .models import (
    ContactOptIn,
    Conversation,
    Message,
    MessageTemplate,
    WebhookDelivery,
)
from .windows import entry_point_openers


def last_inbound_at(*, conversation: Conversation, at: datetime) -> datetime | None:
    """Return the latest inbound provider timestamp at or before ``at`` (B1)."""
    if conversation.last_inbound_at is not None and conversation.last_inbound_at <= at:
        # The common case: the derived column already is the answer.
        return conversation.last_inbound_at
    return Message.objects.filter(
        conversation=conversation,
        direction=Message.Direction.INBOUND,
        provider_timestamp__lte=at,
    ).aggregate(latest=Max("provider_timestamp"))["latest"]


@dataclass(frozen=True)
class WindowState:
    is_open: bool
    last_inbound_at: datetime | None
    closes_at: datetime | None


def window_state(*, conversation: Conversation, at: datetime) -> WindowState:
    latest = last_inbound_at(conversation=conversation, at=at)
    return WindowState(
        is_open=rules.window_is_open(last_inbound_at=latest, at=at),
        last_inbound_at=latest,
        closes_at=rules.window_closes_at(last_inbound_at=latest),
    )


def contact_opted_in(*, conversation: Conversation) -> bool:
    """F7: whether the conversation's contact opted in to its business number."""
    return ContactOptIn.objects.filter(
        contact_id=conversation.contact_id,
        business_number_id=conversation.business_number_id,
    ).exists()


def conversation_list(*, user: User) -> QuerySet[Conversation]:
    """Conversations of the user's company, newest first (every user may read, A4)."""
    return (
        Conversation.objects.filter(company_id=user.company_id)
        .select_related("contact", "business_number")
        .order_by("-last_message_at", "-id")
    )


def conversation_get(*, user: User, pk: int) -> Conversation:
    return conversation_list(user=user).get(pk=pk)


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    return (
        Message.objects.filter(conversation=conversation)
        .select_related("sender", "template")
        .order_by("provider_timestamp", "id")
    )


def sendable_templates(*, company_id: int) -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.filter(
        company_id=company_id, status=MessageTemplate.Status.APPROVED
    ).order_by("name", "language")


def entry_point_open(*, conversation: Conversation, at: datetime) -> bool:
    """F2: whether a free entry point window of the conversation covers ``at``
    (``windows.entry_point_openers``, the query billing's charges use too)."""
    return entry_point_openers(conversation_ref=conversation.pk, at_ref=at).exists()


def dead_deliveries(
    *, queryset: QuerySet[WebhookDelivery] | None = None
) -> QuerySet[WebhookDelivery]:
    """The deliveries ``rules.delivery_is_dead`` calls dead, as a queryset (of
    ``queryset`` when given), with the maximum of attempts from the settings."""
    queryset = WebhookDelivery.objects.all() if queryset is None else queryset
    return queryset.filter(
        status=WebhookDelivery.Status.FAILED,
        attempts__gte=settings.WHATSAPP_WEBHOOK_MAX_ATTEMPTS,
    )
