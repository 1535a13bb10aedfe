from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    F,
    Max,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)

from accounts.models import User

from . import rules
from .models import (
    BusinessNumber,
    Contact,
    ContactOptIn,
    Conversation,
    Message,
    MessageTemplate,
    TemplateEvent,
    WebhookDelivery,
)
from .windows import entry_point_openers, window_open_q


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
    """F8: whether the conversation's contact opted in to its business number."""
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


def contact_list(
    *, company_id: int, at: datetime, query: str = ""
) -> QuerySet[Contact]:
    """The company's contacts with their latest inbound message (any number),
    whether a window is open at ``at`` and their opt-ins, in a constant number
    of queries. ``query`` matches the name or the digits of the number."""
    queryset = (
        Contact.objects.filter(company_id=company_id)
        .annotate(last_inbound_at=Max("conversations__last_inbound_at"))
        .annotate(
            window_open=Case(
                When(window_open_q(at=at), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .prefetch_related(
            Prefetch(
                "opt_ins",
                queryset=ContactOptIn.objects.select_related(
                    "business_number"
                ).order_by("business_number__display_phone_number"),
            )
        )
        .order_by(F("last_inbound_at").desc(nulls_last=True), "profile_name", "wa_id")
    )
    query = query.strip()
    if query:
        digits = "".join(ch for ch in query if ch.isdigit())
        match = Q(profile_name__icontains=query)
        if digits:
            match |= Q(wa_id__contains=digits)
        queryset = queryset.filter(match)
    return queryset


def company_numbers(*, company_id: int) -> QuerySet[BusinessNumber]:
    """The company's active business numbers, to send from."""
    return BusinessNumber.objects.filter(
        company_id=company_id, is_active=True
    ).order_by("display_phone_number")


def template_costlier_changes(
    *, company_id: int, since: datetime
) -> QuerySet[TemplateEvent]:
    """F9: the company's template category changes to a dearer category (made or
    announced) since ``since``, newest first."""
    return (
        TemplateEvent.objects.filter(
            company_id=company_id,
            costs_more=True,
            kind__in=[TemplateEvent.Kind.CATEGORY, TemplateEvent.Kind.CATEGORY_NOTICE],
            occurred_at__gte=since,
        )
        .select_related("template")
        .order_by("-occurred_at", "-id")
    )
