"""Customer service window (B1-B3) and delivery status (C1) rules of
shared/PRICING_RULES.md, as pure functions: no ORM, no clock."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)

# --- B1-B3: the window ----------------------------------------------------


def window_is_open(*, last_inbound_at: datetime | None, at: datetime) -> bool:
    """B1: open at ``at`` when an inbound message has ``t_in <= at < t_in + 24h``.

    ``last_inbound_at`` is the latest inbound provider timestamp at or before
    ``at``. The window is closed at exactly 24 hours.
    """
    if last_inbound_at is None or last_inbound_at > at:
        return False
    return at < last_inbound_at + CUSTOMER_SERVICE_WINDOW


def window_closes_at(*, last_inbound_at: datetime | None) -> datetime | None:
    """Return the first instant at which the window is closed again."""
    if last_inbound_at is None:
        return None
    return last_inbound_at + CUSTOMER_SERVICE_WINDOW


# --- F2: free entry points ----------------------------------------------------

# An ad-referred inbound message opens a free entry point window when the business
# answers within 24 h; every message delivered in the 72 h from that answer is free.
ENTRY_POINT_ANSWER_WITHIN = timedelta(hours=24)
ENTRY_POINT_FREE_FOR = timedelta(hours=72)


def entry_point_window(
    *, referral_at: datetime, first_answer_at: datetime | None
) -> tuple[datetime, datetime] | None:
    """F2: the free entry point window [opens, closes) of an ad-referred inbound
    message, given the business's first answer after it; None if it never
    answered within 24 h."""
    if first_answer_at is None or not (
        referral_at <= first_answer_at < referral_at + ENTRY_POINT_ANSWER_WITHIN
    ):
        return None
    return first_answer_at, first_answer_at + ENTRY_POINT_FREE_FOR


def opens_window(*, direction: str) -> bool:
    """B2: only inbound messages open or refresh a window."""
    return direction == "in"


class SendRefusal:
    """Why a send is refused (B3 and template rules); values are stable codes."""

    WINDOW_CLOSED = "window_closed"
    TEMPLATE_NOT_APPROVED = "template_not_approved"
    TEMPLATE_OTHER_COMPANY = "template_other_company"
    TEMPLATE_PARAMS = "template_params"
    EMPTY_TEXT = "empty_text"


def send_refusal(
    *,
    is_template: bool,
    window_open: bool,
    text: str = "",
    template_approved: bool = False,
    template_same_company: bool = True,
    placeholders: int = 0,
    params_given: int = 0,
) -> str | None:
    """B3: return why this message may not be sent now, or None when it may.

    While the window is open any message may be sent; while it is closed only
    approved templates.
    """
    if is_template:
        if not template_same_company:
            return SendRefusal.TEMPLATE_OTHER_COMPANY
        if not template_approved:
            return SendRefusal.TEMPLATE_NOT_APPROVED
        if placeholders != params_given:
            return SendRefusal.TEMPLATE_PARAMS
        return None
    if not text.strip():
        return SendRefusal.EMPTY_TEXT
    if not window_open:
        return SendRefusal.WINDOW_CLOSED
    return None


def send_fingerprint(
    *,
    conversation_id: int,
    text: str,
    template_id: int | None,
    params: list[str],
) -> str:
    """Return the SHA-256 of what a send asks for: a repeated idempotency key
    replays the first answer only for the same request (as Stripe compares the
    parameters), whatever the JSON's key order or spacing."""
    canonical = json.dumps(
        [conversation_id, text, template_id, list(params)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- C1: delivery status --------------------------------------------------

STATUS_SENT = "sent"
STATUS_DELIVERED = "delivered"
STATUS_READ = "read"
STATUS_FAILED = "failed"
KNOWN_STATUSES = (STATUS_SENT, STATUS_DELIVERED, STATUS_READ, STATUS_FAILED)

# A message's status only moves forward along this order.
_PROGRESS = {
    "accepted": 0,
    STATUS_SENT: 1,
    STATUS_FAILED: 2,
    STATUS_DELIVERED: 3,
    STATUS_READ: 4,
}


@dataclass(frozen=True)
class DeliveryState:
    status: str
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None


def delivery_state(events: Iterable[tuple[str, datetime]]) -> DeliveryState:
    """C1: derive an outbound message's state from its status events, in any order.

    - ``delivered_at`` is the delivered instant, or the read instant when
      ``delivered`` never arrived (read implies delivered);
    - ``failed`` never undoes a delivery: a delivered message stays delivered;
    - the status never moves backwards; duplicates change nothing.
    """
    first: dict[str, datetime] = {}
    for status, at in events:
        if status in _PROGRESS and (status not in first or at < first[status]):
            first[status] = at
    delivered_at = first.get(STATUS_DELIVERED) or first.get(STATUS_READ)
    status = "accepted"
    for candidate in first:
        if _PROGRESS[candidate] > _PROGRESS[status]:
            status = candidate
    return DeliveryState(
        status=status,
        sent_at=first.get(STATUS_SENT),
        delivered_at=delivered_at,
        read_at=first.get(STATUS_READ),
        failed_at=first.get(STATUS_FAILED),
    )


def event_order(status: str, at: datetime) -> tuple[datetime, int, str]:
    """C1: the order of a message's status events, by provider time and, at the
    same instant, by progress: never by arrival, so what is derived from "the
    first failure" or "the latest pricing" does not depend on it either."""
    return at, _PROGRESS.get(status, -1), status


def is_delivered(*, delivered_at: datetime | None) -> bool:
    """C1: a message counts as delivered (and chargeable) once delivered_at is set."""
    return delivered_at is not None


# --- Contacts -------------------------------------------------------------


def country_of(wa_id: str) -> str:
    """Return the ISO 3166 region of a WhatsApp id (international digits), or ""."""
    import phonenumbers

    try:
        number = phonenumbers.parse("+" + wa_id, None)
    except phonenumbers.NumberParseException:
        return ""
    region = phonenumbers.region_code_for_number(number) or ""
    # Non-geographic numbers (+800, +882, …) have the region "001": no country.
    return region if len(region) == 2 and region.isalpha() else ""


# --- Webhook deliveries -----------------------------------------------------


def delivery_is_dead(*, status: str, attempts: int, max_attempts: int) -> bool:
    """A stored delivery is a dead letter when its processing failed and it has
    been tried ``max_attempts`` times: the beat no longer retries it, Customer
    Success reprocesses it from the admin once the cause is fixed."""
    return status == "failed" and attempts >= max_attempts
