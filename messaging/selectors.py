from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Count,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts.models import User

from . import rules
from .models import (
    BusinessNumber,
    Contact,
    ContactOptIn,
    Conversation,
    ConversationRead,
    Message,
    MessageTemplate,
    TemplateEvent,
    WebhookDelivery,
)
from .windows import entry_point_openers, entry_point_referrals, window_open_q


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
    return (
        conversation_list(user=user).select_related("assigned_to", "company").get(pk=pk)
    )


def inbox_conversations(*, user: User) -> QuerySet[Conversation]:
    """The inbox list: the company's conversations with their agent and, for
    ``user``, ``read_upto`` (their read marker, 0 if never opened) and ``unread``
    (messages from the contact after it), as subqueries: one query per page."""
    marker = ConversationRead.objects.filter(
        user=user, conversation=OuterRef("pk")
    ).values("last_read_message_id")[:1]
    unread = (
        Message.objects.filter(
            conversation=OuterRef("pk"),
            direction=Message.Direction.INBOUND,
            id__gt=OuterRef("read_upto"),
        )
        .order_by()
        .values("conversation")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        conversation_list(user=user)
        .select_related("assigned_to")
        .annotate(read_upto=Coalesce(Subquery(marker), Value(0)))
        .annotate(unread=Coalesce(Subquery(unread), Value(0)))
    )


def read_marker(*, user: User, conversation: Conversation) -> int:
    """The newest message id ``user`` has seen in ``conversation`` (0: none)."""
    return (
        ConversationRead.objects.filter(user=user, conversation=conversation)
        .values_list("last_read_message_id", flat=True)
        .first()
        or 0
    )


def _keyset(message: Message, *, before: bool) -> Q:
    """Messages before (or from) ``message`` in thread order (timestamp, id)."""
    ts, pk = message.provider_timestamp, message.pk
    if before:
        return Q(provider_timestamp__lt=ts) | Q(provider_timestamp=ts, id__lt=pk)
    return Q(provider_timestamp__gt=ts) | Q(provider_timestamp=ts, id__gte=pk)


@dataclass(frozen=True)
class ThreadPage:
    messages: list[Message]  # oldest to newest
    has_older: bool

    @property
    def first_id(self) -> int | None:
        return self.messages[0].pk if self.messages else None

    @property
    def newest_id(self) -> int:
        return self.messages[-1].pk if self.messages else 0


def thread_page(
    *, conversation: Conversation, size: int, before_id: int | None = None
) -> ThreadPage:
    """The ``size`` newest messages (before message ``before_id`` when given),
    oldest to newest, and whether older ones exist: how a thread opens and
    pages upwards. An id of another conversation reads as no cursor."""
    messages = message_list(conversation=conversation)
    if before_id is not None:
        cursor = messages.filter(pk=before_id).first()
        if cursor is not None:
            messages = messages.filter(_keyset(cursor, before=True))
    page = list(messages.reverse()[: size + 1])
    return ThreadPage(messages=page[:size][::-1], has_older=len(page) > size)


def thread_since(*, conversation: Conversation, since_id: int | None) -> list[Message]:
    """Every message from message ``since_id`` on (the live part of a thread:
    newly arrived ones and the current status of those shown), oldest first.
    Without a valid cursor: the newest page's worth."""
    messages = message_list(conversation=conversation)
    cursor = messages.filter(pk=since_id).first() if since_id else None
    if cursor is None:
        return list(messages.reverse()[:50])[::-1]
    return list(messages.filter(_keyset(cursor, before=False)))


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


def entry_point_free_for_send(*, conversation: Conversation, at: datetime) -> bool:
    """F2: whether a message sent and delivered at ``at`` is inside a free entry
    point window: one already open, or the one this send opens as the
    business's first answer to an ad-referred message of the last 24 hours
    (``rules.entry_point_window`` with the answer at ``at``)."""
    if entry_point_open(conversation=conversation, at=at):
        return True
    referrals = entry_point_referrals(
        conversation_ref=conversation.pk, at_ref=at
    ).values_list("provider_timestamp", flat=True)
    for referral_at in referrals:
        answered = (
            Message.objects.filter(
                conversation=conversation,
                direction=Message.Direction.OUTBOUND,
                provider_timestamp__gte=referral_at,
            )
            .order_by("provider_timestamp", "id")
            .values_list("provider_timestamp", flat=True)
            .first()
        )
        window = rules.entry_point_window(
            referral_at=referral_at, first_answer_at=answered or at
        )
        if window is not None and window[0] <= at < window[1]:
            return True
    return False


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
