"""Template webhooks of the WhatsApp Business Account (F9): parsing only.

``message_template_status_update`` reports a template's new status (APPROVED,
REJECTED, PAUSED, DISABLED, …) and ``template_category_update`` a category that
changed (``previous_category`` → ``new_category``) or will change in 24 hours
(``correct_category``, ``category_update_timestamp``). Shapes as in Meta's
webhook reference; both name the template by ``message_template_id`` and by
name and language, and the WhatsApp Business Account by ``entry.id``.

Pure code, as messaging/webhooks.py: dicts in, dataclasses out.
services/template_events.py records them.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .exceptions import PayloadError

STATUS_FIELD = "message_template_status_update"
CATEGORY_FIELD = "template_category_update"
TEMPLATE_FIELDS = (STATUS_FIELD, CATEGORY_FIELD)

_MIN_TS = 1_000_000_000
_MAX_TS = 32_503_680_000


@dataclass(frozen=True)
class TemplateUpdate:
    field: str
    waba_id: str
    occurred_at: datetime
    template_id: str
    name: str
    language: str
    # message_template_status_update
    event: str = ""
    reason: str = ""
    # template_category_update: a change made (previous -> new), or announced
    # (new is today's category, correct the one it becomes at ``changes_at``).
    previous_category: str = ""
    new_category: str = ""
    correct_category: str = ""
    changes_at: datetime | None = None
    raw: dict | None = None

    @property
    def is_announcement(self) -> bool:
        return self.field == CATEGORY_FIELD and bool(self.correct_category)


def _epoch(value: Any, where: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PayloadError(f"{where} must be epoch seconds")
    try:
        seconds = int(value)
    except ValueError as exc:
        raise PayloadError(f"{where} must be epoch seconds") from exc
    if not _MIN_TS <= seconds <= _MAX_TS:
        raise PayloadError(f"{where} {seconds} is out of range")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _string(value: dict, key: str, where: str, *, max_length: int) -> str:
    raw = value.get(key)
    if raw is None:
        return ""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise PayloadError(f"{where}.{key} must be a string")
    text = str(raw)
    if len(text) > max_length:
        raise PayloadError(f"{where}.{key} is longer than {max_length} characters")
    return text


def template_update_parse(
    *, entry: dict, field: str, value: dict, where: str
) -> TemplateUpdate:
    """Parse one template change of ``entry``; raise PayloadError if malformed."""
    waba_id = entry.get("id")
    if not isinstance(waba_id, str | int) or isinstance(waba_id, bool) or not waba_id:
        raise PayloadError(f"{where}: the entry's id (the business account) is missing")
    occurred_at = _epoch(entry.get("time"), f"{where}: the entry's time")
    template_id = _string(value, "message_template_id", f"{where}.value", max_length=64)
    name = _string(value, "message_template_name", f"{where}.value", max_length=512)
    language = _string(
        value, "message_template_language", f"{where}.value", max_length=15
    )
    if not template_id and not name:
        raise PayloadError(f"{where}.value names no template")
    fields = {
        "field": field,
        "waba_id": str(waba_id),
        "occurred_at": occurred_at,
        "template_id": template_id,
        "name": name,
        "language": language,
        "raw": value,
    }
    if field == STATUS_FIELD:
        event = _string(value, "event", f"{where}.value", max_length=32)
        if not event:
            raise PayloadError(f"{where}.value.event is missing")
        reason = _string(value, "reason", f"{where}.value", max_length=300)
        return TemplateUpdate(event=event.upper(), reason=reason, **fields)
    new = _string(value, "new_category", f"{where}.value", max_length=20)
    previous = _string(value, "previous_category", f"{where}.value", max_length=20)
    correct = _string(value, "correct_category", f"{where}.value", max_length=20)
    if not new:
        raise PayloadError(f"{where}.value.new_category is missing")
    changes_at = None
    if correct and value.get("category_update_timestamp") is not None:
        changes_at = _epoch(
            value["category_update_timestamp"],
            f"{where}.value.category_update_timestamp",
        )
    return TemplateUpdate(
        previous_category=previous.upper(),
        new_category=new.upper(),
        correct_category=correct.upper(),
        changes_at=changes_at,
        **fields,
    )
