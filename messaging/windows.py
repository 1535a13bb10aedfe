"""The window rules as ORM expressions: B1 (``rules.window_is_open``) and F2
(``rules.entry_point_window``), built from the rules' own constants.

The one SQL home of each rule: the inbox filters, the sandbox and billing's
charge query call these; tests/messaging/test_windows.py pins each of them to
its pure rule on every edge.

``conversation_ref`` and ``at_ref`` name fields of the outer row (an
``OuterRef``, as a subquery of a per-message query) or are plain values (a
conversation's pk, an instant).
"""

from datetime import datetime

from django.db.models import OuterRef, Q, QuerySet, Subquery, Value

from .models import Message
from .rules import (
    CUSTOMER_SERVICE_WINDOW,
    ENTRY_POINT_ANSWER_WITHIN,
    ENTRY_POINT_FREE_FOR,
    WINDOW_CLOSING_SOON,
)


def _ref(value):
    """A field of the outer row when named by a string, else the value itself."""
    return OuterRef(value) if isinstance(value, str) else value


def _before(at_ref, span):
    """``at_ref - span``, in SQL for an outer field, in Python for an instant."""
    if isinstance(at_ref, str):
        return OuterRef(at_ref) - Value(span)
    return at_ref - span


def window_open_q(*, at: datetime) -> Q:
    """Return rules.window_is_open(last_inbound_at=..., at=at) as SQL (B1), for
    conversations by their ``last_inbound_at``.

    Open when ``last_inbound_at <= at < last_inbound_at + 24h``, i.e. the last
    inbound message is at most ``at`` and later than ``at - 24h``; closed at
    exactly 24 hours. tests/messaging/test_inbox.py and test_windows.py check it
    against the rule at the window's edges.
    """
    return Q(
        last_inbound_at__lte=at,
        last_inbound_at__gt=at - CUSTOMER_SERVICE_WINDOW,
    )


def window_closing_q(*, at: datetime) -> Q:
    """Return ``rules.window_phase(...) == CLOSING`` as SQL (B1): open at ``at``
    with at most ``WINDOW_CLOSING_SOON`` left, i.e. ``closes_at - 1h <= at <
    closes_at``: the last inbound message is after ``at - 24h`` and at most
    ``at - 23h``."""
    return Q(
        last_inbound_at__lte=at - (CUSTOMER_SERVICE_WINDOW - WINDOW_CLOSING_SOON),
        last_inbound_at__gt=at - CUSTOMER_SERVICE_WINDOW,
    )


def window_openers(*, conversation_ref, at_ref) -> QuerySet[Message]:
    """Inbound messages whose 24 h window is open at the outer row's instant (B1),
    latest first."""
    return Message.objects.filter(
        conversation_id=_ref(conversation_ref),
        direction=Message.Direction.INBOUND,
        provider_timestamp__lte=_ref(at_ref),
        provider_timestamp__gt=_before(at_ref, CUSTOMER_SERVICE_WINDOW),
    ).order_by("-provider_timestamp", "-id")


def entry_point_referrals(*, conversation_ref, at_ref) -> QuerySet[Message]:
    """F2: ad-referred inbound messages an answer at the outer row's instant
    could still open a free entry point window for (referral within the last
    24 h), oldest first."""
    return Message.objects.filter(
        conversation_id=_ref(conversation_ref),
        direction=Message.Direction.INBOUND,
        referral__isnull=False,
        provider_timestamp__lte=_ref(at_ref),
        provider_timestamp__gt=_before(at_ref, ENTRY_POINT_ANSWER_WITHIN),
    ).order_by("provider_timestamp", "id")


def entry_point_openers(*, conversation_ref, at_ref) -> QuerySet[Message]:
    """F2: ad-referred inbound messages whose free entry point window is open at
    the outer row's instant: the business's first answer came within 24 h of
    the referral and at most 72 h before the instant. Latest first."""
    first_answer = (
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            direction=Message.Direction.OUTBOUND,
            provider_timestamp__gte=OuterRef("provider_timestamp"),
            provider_timestamp__lt=OuterRef("provider_timestamp")
            + Value(ENTRY_POINT_ANSWER_WITHIN),
        )
        .order_by("provider_timestamp", "id")
        .values("provider_timestamp")[:1]
    )
    return (
        Message.objects.filter(
            conversation_id=_ref(conversation_ref),
            direction=Message.Direction.INBOUND,
            referral__isnull=False,
            provider_timestamp__lte=_ref(at_ref),
            provider_timestamp__gt=_before(
                at_ref, ENTRY_POINT_ANSWER_WITHIN + ENTRY_POINT_FREE_FOR
            ),
        )
        .annotate(answer_at=Subquery(first_answer))
        .filter(
            answer_at__lte=_ref(at_ref),
            answer_at__gt=_before(at_ref, ENTRY_POINT_FREE_FOR),
        )
        .order_by("-provider_timestamp", "-id")
    )
