"""Delivery statuses: store the provider's status events and derive each
message's status, timestamps, error and pricing from them (C1)."""

from datetime import datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.db.models.constants import OnConflict
from django.utils import timezone

from .. import rules
from ..locks import messages_lock, messages_lock_any
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
    batch = (number, statuses, delivery.pk if delivery else None)
    return status_batches_record(batches=[batch])[0]


def status_batches_record(
    *, batches: list[tuple[BusinessNumber, list[StatusUpdate], int | None]]
) -> list[set[str]]:
    """``status_updates_record`` for many (number, statuses, delivery id) at once,
    in a constant number of statements: one lock of every message reported on,
    one INSERT of every event, one read of their events, one UPDATE of the
    messages that changed. Returns, per batch, the wamids of its company not
    known yet."""
    wamids = sorted({s.wamid for _, statuses, _ in batches for s in statuses})
    if not wamids:
        return [set() for _ in batches]
    # Lock the messages first so concurrent status batches serialise per message
    # (by wamid alone in SQL, the company in Python: see locks.messages_lock).
    messages = messages_lock_any(wamids)
    by_key = {(m.company_id, m.wamid): m for m in messages}
    rows = []
    unknown = []
    touched: dict[int, Message] = {}
    now = timezone.now()
    for number, statuses, delivery_id in batches:
        company_id = number.company_id
        missing = set()
        for s in statuses:
            message = by_key.get((company_id, s.wamid))
            if message is None:
                missing.add(s.wamid)
            else:
                touched[message.pk] = message
            rows.append(
                _EventRow(
                    wamid=s.wamid,
                    company=company_id,
                    status=s.status[:12],
                    timestamp=s.timestamp,
                    message=message.pk if message else None,
                    delivery=delivery_id,
                    recipient_id=s.recipient_id[:32],
                    error_code=s.error_code,
                    error_title=s.error_title,
                    pricing=s.pricing,
                    payload=s.raw,
                    created_at=now,
                )
            )
        unknown.append(missing)
    # An exact repeat (same wamid, company, status and timestamp) is kept once.
    _rows_insert(MessageStatusEvent, _EventRow._fields, rows, ignore_conflicts=True)
    message_delivery_refresh(messages=sorted(touched.values(), key=lambda m: m.pk))
    return unknown


class _EventRow(NamedTuple):
    """A stored status event's columns, by model field name (a foreign key by
    its id): the INSERT's column list is ``_fields``, so a row built by keyword
    cannot put a value in another column."""

    wamid: str
    company: int
    status: str
    timestamp: datetime
    message: int | None
    delivery: int | None
    recipient_id: str
    error_code: int | None
    error_title: str
    pricing: dict | None
    payload: dict
    created_at: datetime


_EVENT_FIELDS = (
    "pk",
    "wamid",
    "company_id",
    "message_id",
    "status",
    "timestamp",
    "error_code",
    "error_title",
    "pricing",
)


def message_delivery_refresh(*, messages: list[Message]) -> None:
    """Re-derive status, timestamps, error and pricing from the events (C1).

    Callers hold a lock on the messages. Idempotent: the result depends only on
    the set of events, not on their order or on how often this runs. One read
    of the messages' events (by wamid), an UPDATE linking the ones that arrived
    before their message (only when there are such), one UPDATE of the
    messages whose derived state changed.
    """
    if not messages:
        return
    by_wamid = {m.wamid: m for m in messages}
    events: dict[int, list[tuple]] = {}
    orphans = []
    # Unsorted (the events are ordered below, by rules.event_order).
    read = MessageStatusEvent.objects.filter(wamid__in=list(by_wamid)).order_by()
    for row in read.values_list(*_EVENT_FIELDS):
        pk, wamid, company_id, message_id, *rest = row
        message = by_wamid[wamid]
        if message_id is None:
            # Arrived before its message: only those posted for the message's
            # own company are its own.
            if company_id != message.company_id:
                continue
            orphans.append(pk)
        elif message_id != message.pk:
            continue
        events.setdefault(message.pk, []).append(tuple(rest))
    if orphans:
        MessageStatusEvent.objects.filter(pk__in=orphans).update(
            message_id=Subquery(
                Message.objects.filter(
                    wamid=OuterRef("wamid"), company_id=OuterRef("company_id")
                ).values("pk")[:1]
            )
        )
    # rest = (status, timestamp, error_code, error_title, pricing)
    for own in events.values():
        own.sort(key=lambda e: rules.event_order(e[0], e[1]))
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
        state = rules.delivery_state((e[0], e[1]) for e in own)
        failed = next((e for e in own if e[0] == rules.STATUS_FAILED), None)
        priced = [e[4] for e in own if e[4]]
        new = {
            "status": state.status,
            "sent_at": state.sent_at,
            "delivered_at": state.delivered_at,
            "read_at": state.read_at,
            "failed_at": state.failed_at,
            "error_code": failed[2] if failed else None,
            "error_title": failed[3] if failed else "",
            "pricing": priced[-1] if priced else message.pricing,
        }
        if any(getattr(message, f) != v for f, v in new.items()):
            for f, v in new.items():
                setattr(message, f, v)
            changed.append(message)
    if changed:
        _rows_update(Message, changed, fields)
        for company_id in sorted({m.company_id for m in changed}):
            ours = [m for m in changed if m.company_id == company_id]
            messages_changed.send(
                sender=Message,
                company_id=company_id,
                conversation_ids=sorted({m.conversation_id for m in ours}),
                # A status changes its own message only.
                messages=sorted({(m.conversation_id, m.pk) for m in ours}),
            )


def _rows_update(model, objects, fields: list[str]) -> None:
    """UPDATE rows by primary key, each with its own values, in one statement.

    On PostgreSQL one ``UPDATE … FROM UNNEST(…)``: one array per column, so the
    statement's text is the same whatever the number of rows (bulk_update builds
    one CASE per field and row, and a VALUES list a placeholder per value, which
    cost more to compile than the database spends running them; the webhook
    path updates up to 1000 messages per POST and many POSTs per batch);
    elsewhere one executemany.
    """
    opts = model._meta
    columns = [opts.get_field(name) for name in fields]
    pk = opts.pk
    quote = connection.ops.quote_name
    rows = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns]
        + [obj.pk]
        for obj in objects
    ]
    table = quote(opts.db_table)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            assignments = ", ".join(f"{quote(f.column)} = %s" for f in columns)
            sql = f"UPDATE {table} SET {assignments} WHERE {quote(pk.column)} = %s"  # noqa: S608
            cursor.executemany(sql, rows)
            return
        names = [quote(f.column) for f in columns] + [quote("pk__")]
        arrays = ", ".join(f"(%s)::{_array_type(f)}" for f in [*columns, pk])
        assignments = ", ".join(f"{n} = v.{n}" for n in names[:-1])
        sql = (
            f"UPDATE {table} SET {assignments} FROM UNNEST({arrays}) "  # noqa: S608
            f"AS v({', '.join(names)}) WHERE {table}.{quote(pk.column)} = v.{names[-1]}"
        )
        cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])


def _rows_insert(
    model, fields: tuple[str, ...], rows: list[tuple], *, ignore_conflicts: bool
) -> None:
    """INSERT rows given as tuples of the fields' values (a foreign key by its
    id), in one statement: ``bulk_create`` without building a model instance per
    row. On PostgreSQL ``INSERT … SELECT FROM UNNEST(…)`` (one array per column:
    the same text whatever the number of rows); elsewhere one executemany."""
    if not rows:
        return
    opts = model._meta
    columns = [opts.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    values = [
        [f.get_db_prep_save(v, connection) for f, v in zip(columns, row, strict=True)]
        for row in rows
    ]
    names = ", ".join(quote(f.column) for f in columns)
    table = quote(opts.db_table)
    conflict = connection.ops.on_conflict_suffix_sql(
        columns, OnConflict.IGNORE if ignore_conflicts else None, [], []
    )
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            placeholders = ", ".join(["%s"] * len(columns))
            insert = connection.ops.insert_statement(
                on_conflict=OnConflict.IGNORE if ignore_conflicts else None
            )
            cursor.executemany(
                f"{insert} {table} ({names}) VALUES ({placeholders}) {conflict}",  # noqa: S608
                values,
            )
            return
        arrays = ", ".join(f"(%s)::{_array_type(f)}" for f in columns)
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT * FROM UNNEST({arrays}) {conflict}",  # noqa: S608
            [list(column) for column in zip(*values, strict=True)],
        )


def _array_type(field) -> str:
    """The PostgreSQL array type of a column, without its length (varchar[],
    not varchar(255)[]: nothing is truncated), as Django's UNNEST inserts."""
    target = field.target_field if field.is_relation else field
    return target.db_type(connection).split("(")[0] + "[]"


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
