"""Delivery statuses: store the provider's status events and derive each
message's status, timestamps, error and pricing from them (C1)."""

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery

from .. import rules
from ..locks import messages_lock
from ..models import BusinessNumber, Message, MessageStatusEvent, WebhookDelivery
from ..signals import messages_changed
from ..webhooks import StatusUpdate


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
    # Lock the messages first so concurrent status batches serialise per message
    # (by wamid alone in SQL: see locks.messages_lock).
    messages = messages_lock(wamids, company_id=number.company_id)
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
        for company_id in sorted({m.company_id for m in changed}):
            messages_changed.send(
                sender=Message,
                company_id=company_id,
                conversation_ids=sorted(
                    {m.conversation_id for m in changed if m.company_id == company_id}
                ),
            )


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
        # locks.messages_lock.
        messages = messages_lock(wamids, company_id=company_id)
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
