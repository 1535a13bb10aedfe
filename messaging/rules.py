"""Customer service window (B1-B3) and delivery status (C1) rules of
shared/PRICING_RULES.md, as pure functions: no ORM, no clock."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.translation import gettext_lazy as _

CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)
# The inbox's "closing soon": an open window with at most this much left.
WINDOW_CLOSING_SOON = timedelta(hours=1)

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


class WindowPhase:
    """What the inbox shows of a window at an instant (B1)."""

    NEVER = "never"  # the contact never wrote
    OPEN = "open"
    CLOSING = "closing"  # open, closing within WINDOW_CLOSING_SOON
    CLOSED = "closed"


def window_phase(*, last_inbound_at: datetime | None, at: datetime) -> str:
    """B1: the window's phase at ``at``: closing when open with at most one hour
    left (``closes_at - 1h <= at < closes_at``), else open or closed."""
    if last_inbound_at is None or last_inbound_at > at:
        return WindowPhase.NEVER
    if not window_is_open(last_inbound_at=last_inbound_at, at=at):
        return WindowPhase.CLOSED
    closes_at = last_inbound_at + CUSTOMER_SERVICE_WINDOW
    if at >= closes_at - WINDOW_CLOSING_SOON:
        return WindowPhase.CLOSING
    return WindowPhase.OPEN


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
    """Why a send is refused (B3, F8 and template rules); values are stable codes."""

    WINDOW_CLOSED = "window_closed"
    TEMPLATE_NOT_APPROVED = "template_not_approved"
    TEMPLATE_PAUSED = "template_paused"
    TEMPLATE_DISABLED = "template_disabled"
    TEMPLATE_OTHER_COMPANY = "template_other_company"
    TEMPLATE_PARAMS = "template_params"
    EMPTY_TEXT = "empty_text"
    OPT_IN_MISSING = "opt_in_missing"


# F9: a template in these states is refused with its own code (the provider
# paused it for its quality, or disabled it); any other non-approved state is
# TEMPLATE_NOT_APPROVED.
_TEMPLATE_STATE_REFUSALS = {
    "paused": SendRefusal.TEMPLATE_PAUSED,
    "disabled": SendRefusal.TEMPLATE_DISABLED,
}


def send_refusal(
    *,
    is_template: bool,
    window_open: bool,
    text: str = "",
    template_approved: bool = False,
    template_status: str = "",
    template_same_company: bool = True,
    placeholders: int = 0,
    params_given: int = 0,
    opted_in: bool = True,
    opt_in_required: bool = False,
) -> str | None:
    """B3, F8, F9: return why this message may not be sent now, or None when it may.

    While the window is open any message may be sent; while it is closed only
    approved templates (B3), and, when the company requires it, only to a
    contact who opted in to the business number (F8: a business-initiated
    template). A paused or disabled template is never sent (F9).
    """
    if is_template:
        if not template_same_company:
            return SendRefusal.TEMPLATE_OTHER_COMPANY
        if not template_approved:
            return _TEMPLATE_STATE_REFUSALS.get(
                template_status, SendRefusal.TEMPLATE_NOT_APPROVED
            )
        if placeholders != params_given:
            return SendRefusal.TEMPLATE_PARAMS
        if opt_in_required and not window_open and not opted_in:
            return SendRefusal.OPT_IN_MISSING
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


# --- Assignment --------------------------------------------------------------


class AssignmentRefusal:
    """Why a conversation may not be assigned to someone; stable codes."""

    OTHER_COMPANY = "assignee_other_company"
    INACTIVE = "assignee_inactive"
    NOT_LICENSED = "assignee_not_licensed"


def assignment_refusal(
    *,
    same_company: bool,
    assignee_active: bool,
    assignee_licensed: bool,
) -> str | None:
    """Product rule: a conversation is assigned to an active user of its own
    company who holds a WhatsApp license (only they can answer it, A4); None
    when allowed. Unassigning is always allowed (not checked here)."""
    if not same_company:
        return AssignmentRefusal.OTHER_COMPANY
    if not assignee_active:
        return AssignmentRefusal.INACTIVE
    if not assignee_licensed:
        return AssignmentRefusal.NOT_LICENSED
    return None


# --- Unread ---------------------------------------------------------------------


def is_unread(*, direction: str, message_id: int, last_read_message_id: int) -> bool:
    """A message is unread for a user when it came from the contact and is newer
    than the newest message they saw (their read marker; 0: never opened)."""
    return direction == "in" and message_id > last_read_message_id


# --- Failed messages: the provider's reason in plain words ---------------------

# Cloud API error codes (Meta's "Error codes" reference) a failed status carries.
FAILURE_REASONS = {
    470: _(
        "More than 24 hours have passed since the contact last wrote, so only a "
        "template can reach them."
    ),
    130429: _("Too many messages were sent from this number too fast. Try later."),
    130472: _(
        "WhatsApp held back this marketing message: the contact is part of a "
        "WhatsApp experiment on marketing messages."
    ),
    131000: _("WhatsApp could not send the message because of an error on its side."),
    131005: _("WhatsApp refused access: the number's permissions need checking."),
    131008: _("A value the template needs was missing."),
    131009: _("A value given to the template is not valid."),
    131016: _("WhatsApp was unavailable. Try again in a moment."),
    131021: _("The contact's number is the business number itself."),
    131026: _(
        "The message could not be delivered: the number may not be on WhatsApp, "
        "its app may be too old, or it has not accepted WhatsApp's latest terms."
    ),
    131031: _("The business account is locked by WhatsApp."),
    131042: _(
        "The business account has a payment problem with WhatsApp: check its "
        "payment method."
    ),
    131047: _(
        "More than 24 hours have passed since the contact last wrote, so only a "
        "template can reach them."
    ),
    131048: _("WhatsApp limited this number: too many of its messages were reported."),
    131049: _(
        "WhatsApp did not deliver this marketing message to keep the contact's "
        "experience healthy (a limit on marketing messages per person). Try "
        "again later, not straight away."
    ),
    131050: _("The contact has stopped marketing messages from this business."),
    131051: _("WhatsApp does not support this kind of message."),
    131052: _("The media of the message could not be downloaded."),
    131053: _("The media of the message could not be uploaded."),
    131056: _("Too many messages to this contact too fast. Try later."),
    131057: _("The business account is in maintenance."),
    132000: _("The number of values does not match the template's placeholders."),
    132001: _("The template does not exist in this language."),
    132005: _("The template's text is too long once filled in."),
    132007: _("The template's content breaks WhatsApp's policy."),
    132012: _("A value does not have the format the template expects."),
    132015: _("The template is paused by WhatsApp because of low quality."),
    132016: _("The template is disabled by WhatsApp."),
    133010: _("The business number is not registered with WhatsApp."),
    368: _("The business number is temporarily blocked for policy violations."),
}

# The failures that an approved template would get past: the window had closed.
TEMPLATE_FIXES_FAILURE = frozenset({470, 131047})


def failure_reason(*, error_code: int | None, error_title: str = "") -> str:
    """The reason a failed message failed, in plain words (translated): the
    known codes' own text, else the provider's title, else a generic text."""
    if error_code in FAILURE_REASONS:
        return str(FAILURE_REASONS[error_code])
    if error_title:
        return error_title
    return str(_("WhatsApp did not say why."))


def failure_template_fix(*, error_code: int | None, is_template: bool) -> bool:
    """Whether to offer "send as template instead": a free-form message that
    failed because the window was closed (131047, the older 470)."""
    return not is_template and error_code in TEMPLATE_FIXES_FAILURE


# --- Template parameters -------------------------------------------------------


@dataclass(frozen=True)
class TemplateParam:
    number: int  # {{number}} in the body
    name: str  # the template's variable name, "" when positional
    example: str  # the template's example value, "" when none


def template_params(
    *, placeholders: int, components: list | None
) -> list[TemplateParam]:
    """The body placeholders ``{{1}}…{{placeholders}}`` with the names and examples
    of the template's stored components (the Graph API's BODY component:
    ``example.body_text_named_params`` [{param_name, example}] or
    ``example.body_text`` [[example, …]]); missing or malformed parts are empty."""
    names: list[str] = []
    examples: list[str] = []
    for component in components or []:
        if (
            not isinstance(component, dict)
            or str(component.get("type", "")).upper() != "BODY"
        ):
            continue
        example = component.get("example")
        if not isinstance(example, dict):
            continue
        named = example.get("body_text_named_params")
        if isinstance(named, list):
            for item in named:
                if isinstance(item, dict):
                    names.append(str(item.get("param_name", "")))
                    examples.append(str(item.get("example", "")))
        positional = example.get("body_text")
        if (
            isinstance(positional, list)
            and positional
            and isinstance(positional[0], list)
        ):
            examples = [str(v) for v in positional[0]]
    return [
        TemplateParam(
            number=n,
            name=names[n - 1] if n <= len(names) else "",
            example=examples[n - 1] if n <= len(examples) else "",
        )
        for n in range(1, placeholders + 1)
    ]


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


class PhoneRefusal:
    """Why a number typed by a person is not a WhatsApp recipient; stable codes."""

    EMPTY = "phone_empty"
    NOT_A_NUMBER = "phone_not_a_number"
    INVALID = "phone_invalid"
    UNSUPPORTED = "phone_unsupported"


@dataclass(frozen=True)
class PhoneNumber:
    """A number normalised to E.164 (``e164`` "+34612345678", ``wa_id`` its digits)."""

    e164: str
    wa_id: str
    country: str


def phone_normalise(raw: str, *, region: str = "") -> PhoneNumber | str:
    """Return ``raw`` as an E.164 number, or the PhoneRefusal code refusing it.

    International input ("+34 612 34 56 78", "0034…") needs no region; a national
    number ("612 34 56 78") is read in ``region`` (the business number's
    country). The number must be valid for its country (phonenumbers' metadata)
    and be one a person can have WhatsApp on: mobile or landline. Toll-free,
    premium-rate, shared-cost, pager, voicemail, personal and universal access
    numbers, and non-geographic ranges (+800, +882, …), are refused as
    unsupported.
    """
    import phonenumbers
    from phonenumbers import PhoneNumberType

    text = (raw or "").strip()
    if not text:
        return PhoneRefusal.EMPTY
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return PhoneRefusal.NOT_A_NUMBER
    if not phonenumbers.is_valid_number(number):
        return PhoneRefusal.INVALID
    supported = {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
    country = phonenumbers.region_code_for_number(number) or ""
    if (
        phonenumbers.number_type(number) not in supported
        or len(country) != 2
        or not country.isalpha()
    ):
        return PhoneRefusal.UNSUPPORTED
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return PhoneNumber(e164=e164, wa_id=e164[1:], country=country)


def region_of_display_number(display_phone_number: str) -> str:
    """Return the country of a business number's display number, or ""."""
    digits = "".join(ch for ch in display_phone_number if ch.isdigit())
    return country_of(digits) if digits else ""


# --- F9: templates follow the provider ------------------------------------------

# message_template_status_update's ``event`` -> our MessageTemplate.Status value.
# REINSTATED and UNARCHIVED make a template sendable again (APPROVED); LOCKED and
# UNLOCKED only lock editing and leave the status as it is (None).
TEMPLATE_EVENT_STATUS = {
    "APPROVED": "approved",
    "PENDING": "pending",
    "REJECTED": "rejected",
    "PAUSED": "paused",
    "DISABLED": "disabled",
    "IN_APPEAL": "in_appeal",
    "FLAGGED": "flagged",
    "LIMIT_EXCEEDED": "limit_exceeded",
    "ARCHIVED": "archived",
    "UNARCHIVED": "approved",
    "REINSTATED": "approved",
    "PENDING_DELETION": "pending_deletion",
    "DELETED": "deleted",
}

TEMPLATE_CATEGORIES = ("utility", "authentication", "marketing")

# From the cheapest to the dearest, by what C2-C4 charge: utility is free inside
# a window (C3); authentication and marketing are charged on every delivery
# (C2, C4), and the provider's rate cards price marketing above authentication
# in every market. Messaging cannot read billing's rates (layering), so the
# order of categories decides.
CATEGORY_COST_ORDER = {
    category: rank for rank, category in enumerate(TEMPLATE_CATEGORIES)
}


def template_status_for_event(event: str) -> str | None:
    """F9: the template status a provider status event sets, or None (no change)."""
    return TEMPLATE_EVENT_STATUS.get((event or "").upper())


def template_category_of(provider_category: str) -> str | None:
    """F9: our category of the provider's ("MARKETING" -> "marketing"), or None."""
    category = (provider_category or "").lower()
    return category if category in CATEGORY_COST_ORDER else None


def category_costs_more(*, previous: str, new: str) -> bool:
    """F9: whether a template moved to a category charged more (e.g. utility ->
    marketing), by CATEGORY_COST_ORDER; unknown categories never do."""
    if previous not in CATEGORY_COST_ORDER or new not in CATEGORY_COST_ORDER:
        return False
    return CATEGORY_COST_ORDER[new] > CATEGORY_COST_ORDER[previous]


# --- F8: opt-in -----------------------------------------------------------------


def may_record_opt_in(*, is_company_admin: bool, holds_license: bool) -> bool:
    """F8: who may record a contact's opt-in by hand: the company's admins and
    the users who may send (A4). Imports of contacts are for admins only."""
    return is_company_admin or holds_license


# --- Webhook deliveries -----------------------------------------------------


def delivery_is_dead(*, status: str, attempts: int, max_attempts: int) -> bool:
    """A stored delivery is a dead letter when its processing failed and it has
    been tried ``max_attempts`` times: the beat no longer retries it, Customer
    Success reprocesses it from the admin once the cause is fixed."""
    return status == "failed" and attempts >= max_attempts
