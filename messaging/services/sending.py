"""Sending: the one path of every send (web page, JSON API, admin, demo),
``message_send``, which checks A4 and B3 and records what the transport accepted.
"""

from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.queueing import enqueue_on_commit
from licensing.services import send_permission_check

from .. import rules
from ..exceptions import (
    IdempotencyKeyReused,
    InvalidMessage,
    OptInMissing,
    TemplateDisabled,
    TemplateNotSendable,
    TemplatePaused,
    WindowClosed,
)
from ..locks import conversation_lock
from ..models import PLACEHOLDER_RE, Conversation, Message, MessageTemplate
from ..selectors import contact_opted_in, last_inbound_at
from .statuses import message_delivery_refresh, status_orphans_link


def template_render(*, template: MessageTemplate, params: list[str]) -> str:
    return PLACEHOLDER_RE.sub(
        lambda m: (
            params[int(m.group(1)) - 1]
            if int(m.group(1)) <= len(params)
            else m.group(0)
        ),
        template.body,
    )


def window_closed_message(*, closes_at: datetime, zone=None) -> str:
    """B3's refusal of a free-form send, saying when the window closed: in UTC
    (the API's times), or in ``zone`` with its name (the inbox shows the
    viewer's zone, like the thread beside it)."""
    if zone is None:
        return _(
            "The 24-hour customer service window closed at %(when)s UTC. Free-form "
            "messages need an open window; send an approved template instead."
        ) % {"when": f"{closes_at.astimezone(UTC):%Y-%m-%d %H:%M}"}
    return _(
        "The 24-hour customer service window closed at %(when)s (%(zone)s). "
        "Free-form messages need an open window; send an approved template instead."
    ) % {
        "when": date_format(closes_at.astimezone(zone), "j M Y, H:i"),
        "zone": str(zone),
    }


def _refusal_error(
    refusal: str, *, closes_at: datetime | None, template=None, params=None
):
    if refusal == rules.SendRefusal.WINDOW_CLOSED:
        if closes_at is None:
            message = _(
                "The 24-hour customer service window was never opened: the contact has not "
                "written to this number. Free-form messages need an open window; send an "
                "approved template instead."
            )
        else:
            message = window_closed_message(closes_at=closes_at)
        return WindowClosed(message, closes_at=closes_at)
    if refusal == rules.SendRefusal.TEMPLATE_NOT_APPROVED:
        return TemplateNotSendable(
            _("Template %(name)s is %(status)s; only approved templates can be sent.")
            % {"name": template.name, "status": template.get_status_display().lower()}
        )
    if refusal == rules.SendRefusal.TEMPLATE_OTHER_COMPANY:
        return TemplateNotSendable(_("This template belongs to another company."))
    if refusal == rules.SendRefusal.TEMPLATE_PARAMS:
        return TemplateNotSendable(
            _(
                "Template %(name)s needs %(needed)d value(s) for its placeholders, %(given)d given."
            )
            % {
                "name": template.name,
                "needed": template.placeholder_count,
                "given": len(params or []),
            }
        )
    if refusal == rules.SendRefusal.TEMPLATE_PAUSED:
        return TemplatePaused(
            _(
                "Template %(name)s is paused by WhatsApp because of its quality; it "
                "cannot be sent until WhatsApp approves it again."
            )
            % {"name": template.name}
        )
    if refusal == rules.SendRefusal.TEMPLATE_DISABLED:
        return TemplateDisabled(
            _("Template %(name)s is disabled by WhatsApp and can no longer be sent.")
            % {"name": template.name}
        )
    if refusal == rules.SendRefusal.OPT_IN_MISSING:
        return OptInMissing(
            _(
                "This contact has not opted in to messages from this number. Record "
                "their opt-in (contacts page or import) before sending a template "
                "outside the customer service window."
            )
        )
    return InvalidMessage(_("A message needs some text."))


def message_send(
    *,
    sender: User,
    conversation: Conversation,
    text: str = "",
    template: MessageTemplate | None = None,
    params: list[str] | None = None,
    idempotency_key: str | None = None,
) -> Message:
    """Send one message through the configured transport and record it.

    Checks, in order: the sender holds a license now (A4), what may be sent
    given the window (B3) and the template's state. A refusal raises a
    DomainError and nothing is sent or recorded. With ``idempotency_key`` (the
    sender's own) a repeated call with the same request returns the first
    message instead of sending again; the same key with another request raises
    IdempotencyKeyReused. The license is checked before either.
    """
    from ..transports import get_transport

    params = [str(p) for p in (params or [])]
    if text and template is not None:
        raise InvalidMessage(_("Send either text or a template, not both."))
    with transaction.atomic():
        # One sender at a time per conversation: double submits and the window
        # check see each other (locks.conversation_lock).
        conversation = conversation_lock(conversation.pk)
        at = timezone.now()
        if template is not None:
            # Its state as stored now: a pause or a category change reported by
            # the provider since the caller loaded it counts (F9).
            template = MessageTemplate.objects.get(pk=template.pk)
        # Checked before a stored answer is replayed, too: a key is no way round A4.
        send_permission_check(user=sender, company=conversation.company, at=at)
        fingerprint = rules.send_fingerprint(
            conversation_id=conversation.pk,
            text=text,
            template_id=template.pk if template is not None else None,
            params=params,
        )
        if idempotency_key:
            existing = Message.objects.filter(
                sender=sender, idempotency_key=idempotency_key
            ).first()
            if existing is not None:
                if existing.idempotency_fingerprint != fingerprint:
                    raise IdempotencyKeyReused(
                        _(
                            "The idempotency key %(key)s was already used for another "
                            "message; use a new key for a new message."
                        )
                        % {"key": idempotency_key}
                    )
                return existing
        if not conversation.business_number.is_active:
            raise InvalidMessage(
                _("Business number %(number)s is inactive.")
                % {"number": conversation.business_number}
            )
        latest_in = last_inbound_at(conversation=conversation, at=at)
        window_open = rules.window_is_open(last_inbound_at=latest_in, at=at)
        # F8: the opt-in is read only when it can matter.
        opt_in_required = conversation.company.whatsapp_opt_in_required
        opted_in = (
            template is None
            or window_open
            or not opt_in_required
            or contact_opted_in(conversation=conversation)
        )
        refusal = rules.send_refusal(
            is_template=template is not None,
            window_open=window_open,
            text=text,
            template_approved=template is not None
            and template.status == MessageTemplate.Status.APPROVED,
            template_status=template.status if template is not None else "",
            opted_in=opted_in,
            opt_in_required=opt_in_required,
            template_same_company=template is None
            or template.company_id == conversation.company_id,
            placeholders=template.placeholder_count if template else 0,
            params_given=len(params),
        )
        if refusal:
            raise _refusal_error(
                refusal,
                closes_at=rules.window_closes_at(last_inbound_at=latest_in),
                template=template,
                params=params,
            )
        message = outbound_message_record(
            conversation=conversation,
            sender=sender,
            text=text,
            template=template,
            params=params,
            at=at,
            transport=get_transport(),
            idempotency_key=idempotency_key,
            idempotency_fingerprint=fingerprint if idempotency_key else "",
        )
        message_delivery_refresh(messages=[message])
        wamid, pk = message.wamid, message.pk
        transaction.on_commit(
            lambda: status_orphans_link(
                company_id=conversation.company_id, wamids=[wamid]
            )
        )
        if (
            settings.WHATSAPP_TRANSPORT == "sandbox"
            and settings.WHATSAPP_SANDBOX_EMIT_STATUSES
        ):
            from ..tasks import sandbox_statuses_emit_task

            enqueue_on_commit(sandbox_statuses_emit_task, pk)
    return message


def outbound_message_record(
    *,
    conversation: Conversation,
    sender: User,
    at: datetime,
    transport,
    text: str = "",
    template: MessageTemplate | None = None,
    params: list[str] | None = None,
    idempotency_key: str | None = None,
    idempotency_fingerprint: str = "",
) -> Message:
    """Hand one message to ``transport`` and record it as accepted at ``at``.

    No rule is checked here: message_send checks A4/B3 first, and the demo's
    history builder checks the same rules for its past instants.
    """
    from ..payloads import template_payload, text_payload

    params = params or []
    to = conversation.contact.wa_id
    if template is not None:
        payload = template_payload(
            to=to, name=template.name, language=template.language, body_params=params
        )
        body = template_render(template=template, params=params)
    else:
        payload = text_payload(to=to, body=text)
        body = text
    result = transport.send(
        phone_number_id=conversation.business_number.phone_number_id, payload=payload
    )
    message = Message.objects.create(
        company_id=conversation.company_id,
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        type="template" if template is not None else "text",
        body=body,
        template=template,
        template_category=template.category if template is not None else "",
        template_params=params,
        sender=sender,
        wamid=result.wamid,
        provider_timestamp=at,
        status=Message.Status.ACCEPTED,
        idempotency_key=idempotency_key or None,
        idempotency_fingerprint=idempotency_fingerprint,
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=Greatest(Coalesce("last_message_at", at), at)
    )
    return message
