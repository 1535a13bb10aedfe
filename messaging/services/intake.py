"""Messaging writes: webhook intake and processing, status derivation, sending.

Every send path (web page, JSON API, admin, demo) calls ``message_send``; every
webhook (real or sandbox) goes through ``webhook_receive``.
"""

import functools
import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.queueing import enqueue_on_commit
from licensing.services import send_permission_check

from .. import rules
from ..exceptions import (
    IdempotencyKeyReused,
    InvalidMessage,
    InvalidSignature,
    MalformedPayload,
    TemplateNotSendable,
    WindowClosed,
)
from ..models import (
    PLACEHOLDER_RE,
    BusinessNumber,
    Contact,
    Conversation,
    Message,
    MessageStatusEvent,
    MessageTemplate,
    WebhookDelivery,
)
from ..selectors import last_inbound_at
from ..webhooks import (
    Change,
    PayloadError,
    StatusUpdate,
    parse_payload,
    signature_is_valid,
)

logger = logging.getLogger(__name__)

# --- Webhook intake -------------------------------------------------------


def _decode(body: bytes) -> tuple[str, object]:
    """Decode a webhook body once, strictly: UTF-8 text (no byte order mark, no
    UTF-16/32, no encoded surrogates), then JSON of that very text. What this
    accepts is exactly what ``delivery_process`` later reads from the stored
    text, so an accepted body can always be processed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPayload("The body is not UTF-8 text.") from exc
    if text.startswith("\ufeff"):
        raise MalformedPayload(
            "The body starts with a byte order mark; send UTF-8 JSON without one."
        )
    return text, _json_load(text)


def _json_load(text: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise MalformedPayload("The body is not valid JSON.") from exc


def webhook_receive(
    *, body: bytes, signature: str | None
) -> tuple[WebhookDelivery, bool]:
    """Verify, validate and store one webhook POST, then process it after commit.

    Raises InvalidSignature or MalformedPayload and stores nothing when the body
    is not a correctly signed WhatsApp payload. A repeated body (provider retry)
    is stored once; it is processed again only if its processing failed.
    """
    if not signature_is_valid(
        body=body, header=signature, secret=settings.WHATSAPP_APP_SECRET
    ):
        raise InvalidSignature("Missing or wrong X-Hub-Signature-256.")
    text, data = _decode(body)
    try:
        parse_payload(data)
    except PayloadError as exc:
        raise MalformedPayload(f"Not a WhatsApp webhook payload: {exc}.") from exc
    digest = hashlib.sha256(body).hexdigest()
    with transaction.atomic():
        delivery, created = WebhookDelivery.objects.get_or_create(
            body_sha256=digest, defaults={"body": text}
        )
        if created or delivery.status in (
            WebhookDelivery.Status.RECEIVED,
            WebhookDelivery.Status.FAILED,
        ):
            pk = delivery.pk
            transaction.on_commit(lambda: _delivery_process_enqueue(pk))
    return delivery, created


def _delivery_process_enqueue(delivery_id: int) -> None:
    """Hand a stored delivery to the worker. Once stored it is accepted: a failure
    to process (or to enqueue) is recorded and retried, never answered as an
    error to the provider (deliveries_retry picks it up)."""
    from ..tasks import delivery_process_task

    try:
        delivery_process_task.delay(delivery_id)
    except Exception as exc:
        # Recorded on the delivery (received or failed): the beat retries it,
        # and the attempt that makes it a dead letter is logged at ERROR.
        logger.warning(
            "Delivery %s stored; processing will be retried (%s)",
            delivery_id,
            type(exc).__name__,
            exc_info=True,
        )


def deliveries_retry(*, older_than: timedelta, max_attempts: int) -> list[int]:
    """Process again the deliveries left received or failed (a lost task, a
    database error mid-way). Returns their ids."""
    cutoff = timezone.now() - older_than
    ids = list(
        WebhookDelivery.objects.filter(
            status__in=[WebhookDelivery.Status.RECEIVED, WebhookDelivery.Status.FAILED],
            received_at__lt=cutoff,
            attempts__lt=max_attempts,
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:500]
    )
    for delivery_id in ids:
        _delivery_process_enqueue(delivery_id)
    return ids


def delivery_process(*, delivery_id: int) -> WebhookDelivery:
    """Record every message and status of a stored delivery; safe to re-run."""
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.select_for_update(no_key=True).get(
                pk=delivery_id
            )
            parsed = parse_payload(_json_load(delivery.body))
            ids = {c.phone_number_id for c in parsed.changes}
            numbers = {
                n.phone_number_id: n
                for n in BusinessNumber.objects.filter(phone_number_id__in=ids)
            }
            unknown: set[str] = set()
            counts = {"messages": 0, "statuses": 0}
            orphans: dict[int, set[str]] = {}
            for change in parsed.changes:
                number = numbers.get(change.phone_number_id)
                if number is None:
                    unknown.add(change.phone_number_id)
                    continue
                counts["messages"] += inbound_messages_record(
                    number=number, change=change
                )
                counts["statuses"] += len(change.statuses)
                orphans.setdefault(number.company_id, set()).update(
                    status_updates_record(
                        number=number, statuses=change.statuses, delivery=delivery
                    )
                )
            delivery.result = {
                **counts,
                "unknown_phone_number_ids": sorted(unknown),
                "ignored_fields": parsed.ignored_fields,
                "unknown_wamids": sum(len(w) for w in orphans.values()),
            }
            delivery.status = (
                WebhookDelivery.Status.UNMATCHED
                if unknown
                else WebhookDelivery.Status.PROCESSED
            )
            delivery.processed_at = timezone.now()
            delivery.attempts = F("attempts") + 1
            delivery.error = ""
            delivery.save()
            for company_id, wamids in sorted(orphans.items()):
                if not wamids:
                    continue
                transaction.on_commit(
                    functools.partial(
                        status_orphans_link,
                        company_id=company_id,
                        wamids=sorted(wamids),
                    )
                )
    except Exception as exc:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            attempts=F("attempts") + 1,
        )
        _dead_letter_log(delivery_id, exc)
        raise
    delivery.refresh_from_db()
    return delivery


def _dead_letter_log(delivery_id: int, exc: Exception) -> None:
    """Log at ERROR, once, the failure that makes a delivery a dead letter (no
    longer retried by the beat). Only its id and the error type: the error text
    may quote the body."""
    attempts = (
        WebhookDelivery.objects.filter(pk=delivery_id)
        .values_list("attempts", flat=True)
        .first()
    )
    if attempts is None:
        return
    limit = settings.WHATSAPP_WEBHOOK_MAX_ATTEMPTS
    failed = WebhookDelivery.Status.FAILED
    if rules.delivery_is_dead(
        status=failed, attempts=attempts, max_attempts=limit
    ) and not rules.delivery_is_dead(
        status=failed, attempts=attempts - 1, max_attempts=limit
    ):
        logger.error(
            "Webhook delivery %s failed %d times (%s): no longer retried; "
            "reprocess it from the admin's dead letters once the cause is fixed",
            delivery_id,
            attempts,
            type(exc).__name__,
        )


def inbound_messages_record(*, number: BusinessNumber, change: Change) -> int:
    """Store inbound messages (once per wamid) and open or refresh windows (B1)."""
    if not change.messages:
        return 0
    company_id = number.company_id
    contacts: dict[str, Contact] = {}
    for wa_id in sorted({m.from_wa_id for m in change.messages}):
        profile = change.profiles.get(wa_id, "")
        contact, created = Contact.objects.get_or_create(
            company_id=company_id,
            wa_id=wa_id,
            defaults={"profile_name": profile, "country": rules.country_of(wa_id)},
        )
        if not created and profile and contact.profile_name != profile:
            contact.profile_name = profile
            contact.save(update_fields=["profile_name", "updated_at"])
        contacts[wa_id] = contact
    conversations: dict[str, Conversation] = {}
    for wa_id, contact in contacts.items():
        conversations[wa_id], _ = Conversation.objects.get_or_create(
            business_number=number, contact=contact, defaults={"company_id": company_id}
        )
    Message.objects.bulk_create(
        [
            Message(
                company_id=company_id,
                conversation=conversations[m.from_wa_id],
                direction=Message.Direction.INBOUND,
                type=m.type,
                body=m.summary,
                wamid=m.wamid,
                provider_timestamp=m.timestamp,
                status=Message.Status.RECEIVED,
                referral=m.referral,
                raw=m.raw,
            )
            # In wamid order, so two deliveries never take index locks in
            # opposite orders.
            for m in sorted(change.messages, key=lambda m: m.wamid)
        ],
        ignore_conflicts=True,
    )
    latest: dict[int, datetime] = {}
    for m in change.messages:
        conv = conversations[m.from_wa_id]
        if rules.opens_window(direction="in"):
            latest[conv.pk] = max(latest.get(conv.pk, m.timestamp), m.timestamp)
    for conv_pk, ts in sorted(latest.items()):
        # Only moves forward, whatever order the webhooks arrive in (B1). Rows are
        # updated in key order so concurrent deliveries lock them in one order.
        Conversation.objects.filter(pk=conv_pk).update(
            last_inbound_at=Greatest(Coalesce("last_inbound_at", ts), ts),
            last_message_at=Greatest(Coalesce("last_message_at", ts), ts),
        )
    return len(change.messages)


def status_updates_record(
    *,
    number: BusinessNumber,
    statuses: list[StatusUpdate],
    delivery: WebhookDelivery | None,
) -> set[str]:
    """Store status events and re-derive the messages they report on (C1).

    Each event belongs to the number's company and only ever touches that
    company's messages, whatever wamid it carries. An exact repeat (same status
    and timestamp) is stored once; the same status with another timestamp is
    kept too, since the earliest counts. Returns the wamids of the company not
    known yet; their events are kept and applied when the message appears.
    """
    if not statuses:
        return set()
    wamids = sorted({s.wamid for s in statuses})
    # Lock the messages first so concurrent status batches serialise per message.
    # By wamid alone (unique index); a company filter in SQL makes the planner
    # AND a bitmap of all the company's messages.
    messages = [
        m
        for m in Message.objects.select_for_update(no_key=True)
        .filter(wamid__in=wamids)
        .order_by("pk")
        if m.company_id == number.company_id
    ]
    by_wamid = {m.wamid: m for m in messages}
    MessageStatusEvent.objects.bulk_create(
        [
            MessageStatusEvent(
                wamid=s.wamid,
                company_id=number.company_id,
                status=s.status[:12],
                timestamp=s.timestamp,
                message=by_wamid.get(s.wamid),
                delivery=delivery,
                recipient_id=s.recipient_id[:32],
                error_code=s.error_code,
                error_title=s.error_title,
                pricing=s.pricing,
                payload=s.raw,
            )
            for s in statuses
        ],
        ignore_conflicts=True,
    )
    message_delivery_refresh(messages=messages)
    return set(wamids) - set(by_wamid)


def message_delivery_refresh(*, messages: list[Message]) -> None:
    """Re-derive status, timestamps, error and pricing from the events (C1).

    Callers hold a lock on the messages. Idempotent: the result depends only on
    the set of events, not on their order or on how often this runs.
    """
    if not messages:
        return
    wamids = [m.wamid for m in messages]
    # Link the events that arrived before their message: only those posted for
    # the message's own company.
    MessageStatusEvent.objects.filter(wamid__in=wamids, message__isnull=True).update(
        message_id=Subquery(
            Message.objects.filter(
                wamid=OuterRef("wamid"), company_id=OuterRef("company_id")
            ).values("pk")[:1]
        )
    )
    events: dict[int, list[MessageStatusEvent]] = {}
    for event in MessageStatusEvent.objects.filter(
        message_id__in=[m.pk for m in messages]
    ):
        events.setdefault(event.message_id, []).append(event)
    for own in events.values():
        own.sort(key=lambda e: rules.event_order(e.status, e.timestamp))
    fields = [
        "status",
        "sent_at",
        "delivered_at",
        "read_at",
        "failed_at",
        "error_code",
        "error_title",
        "pricing",
    ]
    changed = []
    for message in messages:
        own = events.get(message.pk, [])
        if not own:
            continue
        state = rules.delivery_state((e.status, e.timestamp) for e in own)
        failed = next((e for e in own if e.status == rules.STATUS_FAILED), None)
        priced = [e.pricing for e in own if e.pricing]
        new = {
            "status": state.status,
            "sent_at": state.sent_at,
            "delivered_at": state.delivered_at,
            "read_at": state.read_at,
            "failed_at": state.failed_at,
            "error_code": failed.error_code if failed else None,
            "error_title": failed.error_title if failed else "",
            "pricing": priced[-1] if priced else message.pricing,
        }
        if any(getattr(message, f) != v for f, v in new.items()):
            for f, v in new.items():
                setattr(message, f, v)
            changed.append(message)
    if changed:
        _rows_update(Message, changed, fields)


def _rows_update(model, objects, fields: list[str]) -> None:
    """UPDATE each row by primary key in one executemany (a pipeline on psycopg).

    bulk_update builds one CASE per field and row, which costs more to compile
    than the database spends running it; the webhook path updates up to 1000
    messages per POST.
    """
    opts = model._meta
    columns = [opts.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in columns)
    sql = f"UPDATE {quote(opts.db_table)} SET {assignments} WHERE {quote(opts.pk.column)} = %s"  # noqa: S608
    rows = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns]
        + [obj.pk]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def status_orphans_link(*, company_id: int, wamids: list[str]) -> int:
    """Apply the company's status events that arrived before their message;
    returns messages fixed. Events posted for another company stay unlinked."""
    with transaction.atomic():
        # By wamid alone in SQL (unique index), the company in Python: see
        # status_updates_record.
        messages = [
            m
            for m in Message.objects.select_for_update(no_key=True)
            .filter(wamid__in=wamids)
            .order_by("pk")
            if m.company_id == company_id
        ]
        orphaned = set(
            MessageStatusEvent.objects.filter(
                wamid__in=[m.wamid for m in messages],
                company_id=company_id,
                message__isnull=True,
            ).values_list("wamid", flat=True)
        )
        todo = [m for m in messages if m.wamid in orphaned]
        message_delivery_refresh(messages=todo)
    return len(todo)


def delivery_reprocess(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Process a stored delivery again (e.g. after adding its business number)."""
    return delivery_process(delivery_id=delivery.pk)


# --- Sending --------------------------------------------------------------


def template_render(*, template: MessageTemplate, params: list[str]) -> str:
    return PLACEHOLDER_RE.sub(
        lambda m: (
            params[int(m.group(1)) - 1]
            if int(m.group(1)) <= len(params)
            else m.group(0)
        ),
        template.body,
    )


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
            message = _(
                "The 24-hour customer service window closed at %(when)s UTC. Free-form "
                "messages need an open window; send an approved template instead."
            ) % {"when": f"{closes_at.astimezone(UTC):%Y-%m-%d %H:%M}"}
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
        # check see each other. Only the conversation row is locked (not the joined
        # company), and FOR NO KEY UPDATE lets foreign-key checks through.
        conversation = (
            Conversation.objects.select_for_update(no_key=True, of=("self",))
            .select_related("business_number", "contact", "company")
            .get(pk=conversation.pk)
        )
        at = timezone.now()
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
        refusal = rules.send_refusal(
            is_template=template is not None,
            window_open=window_open,
            text=text,
            template_approved=template is not None
            and template.status == MessageTemplate.Status.APPROVED,
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
