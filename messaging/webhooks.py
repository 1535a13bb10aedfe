"""WhatsApp Cloud API webhook: signature check and payload parsing.

Pure code: bytes and dicts in, dataclasses out. Nothing here touches the
database; messaging/services/ (intake, inbound, statuses) records what this
returns.
"""

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .exceptions import PayloadError
from .template_webhooks import TEMPLATE_FIELDS, TemplateUpdate, template_update_parse

SIGNATURE_PREFIX = "sha256="
# Provider timestamps outside this range are malformed, not events.
_MIN_TS = 1_000_000_000  # 2001-09-09
_MAX_TS = 32_503_680_000  # 3000-01-01


# Text the database cannot store: NUL (PostgreSQL text/jsonb) and lone UTF-16
# surrogates (not encodable as UTF-8). Refused up front, so a stored delivery
# can always be processed.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Column sizes of what the parser hands to the database.
MAX_WAMID = 255
MAX_WA_ID = 32
MAX_PHONE_NUMBER_ID = 64
INT32 = 2**31 - 1


def _storable(value: Any, where: str = "body") -> None:
    """Refuse any string (key or value) the database could not store."""
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise PayloadError(f"{path} holds a NUL or an unpaired surrogate")
        elif isinstance(item, dict):
            for key, child in item.items():
                if _UNSTORABLE.search(key):
                    raise PayloadError(
                        f"{path} has a key with a NUL or an unpaired surrogate"
                    )
                stack.append((child, f"{path}.{key}"))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))


def signature_for(*, body: bytes, secret: str) -> str:
    """Return the X-Hub-Signature-256 header value for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signature_is_valid(*, body: bytes, header: str | None, secret: str) -> bool:
    """Check X-Hub-Signature-256 (HMAC-SHA256 of the raw body) in constant time."""
    if not header or not secret or not header.startswith(SIGNATURE_PREFIX):
        return False
    return hmac.compare_digest(signature_for(body=body, secret=secret), header.strip())


@dataclass(frozen=True)
class InboundMessage:
    wamid: str
    from_wa_id: str
    timestamp: datetime
    type: str
    summary: str
    raw: dict
    referral: dict | None = None


@dataclass(frozen=True)
class StatusUpdate:
    wamid: str
    status: str
    timestamp: datetime
    recipient_id: str
    error_code: int | None
    error_title: str
    pricing: dict | None
    raw: dict


@dataclass
class Change:
    """One ``changes[]`` item of field ``messages``: everything for one number."""

    phone_number_id: str
    display_phone_number: str
    profiles: dict[str, str] = field(default_factory=dict)
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)


@dataclass
class ParsedPayload:
    changes: list[Change]
    ignored_fields: list[str]
    # F9: template status and category changes (messaging/template_webhooks.py).
    template_updates: list[TemplateUpdate] = field(default_factory=list)

    @property
    def update_count(self) -> int:
        return sum(len(c.messages) + len(c.statuses) for c in self.changes)


def _expect(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        names = (
            kind.__name__
            if isinstance(kind, type)
            else "/".join(k.__name__ for k in kind)
        )
        raise PayloadError(f"{where} must be {names}, got {type(value).__name__}")
    return value


def _text(
    obj: dict,
    key: str,
    where: str,
    *,
    required: bool = True,
    max_length: int | None = None,
) -> str:
    if key not in obj or obj[key] is None:
        if required:
            raise PayloadError(f"{where}.{key} is missing")
        return ""
    value = _expect(obj[key], str, f"{where}.{key}")
    if required and not value:
        raise PayloadError(f"{where}.{key} is empty")
    if max_length is not None and len(value) > max_length:
        raise PayloadError(f"{where}.{key} is longer than {max_length} characters")
    return value


def _timestamp(obj: dict, where: str) -> datetime:
    raw = obj.get("timestamp")
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise PayloadError(f"{where}.timestamp must be epoch seconds")
    try:
        seconds = int(raw)
    except ValueError as exc:
        raise PayloadError(f"{where}.timestamp must be epoch seconds") from exc
    if not _MIN_TS <= seconds <= _MAX_TS:
        raise PayloadError(f"{where}.timestamp {seconds} is out of range")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _attachment(kind: str, label: str, body: dict) -> str:
    detail = body.get("caption") or body.get("filename") or ""
    return f"{label}" + (f": {detail}" if isinstance(detail, str) and detail else "")


def message_summary(message: dict) -> str:
    """Return a readable one-line summary of any inbound message type."""
    kind = message.get("type", "unknown")
    body = message.get(kind) if isinstance(message.get(kind), dict) else {}
    if kind == "text":
        return str(body.get("body", ""))
    labels = {
        "image": "📷 Photo",
        "video": "🎬 Video",
        "audio": "🎤 Audio",
        "voice": "🎤 Voice message",
        "document": "📄 Document",
        "sticker": "Sticker",
    }
    if kind in labels:
        return _attachment(kind, labels[kind], body)
    if kind == "location":
        parts = [str(body[k]) for k in ("name", "address") if body.get(k)]
        where = ", ".join(parts)
        coords = f"{body.get('latitude')}, {body.get('longitude')}"
        return (
            f"📍 Location: {where} ({coords})" if where else f"📍 Location ({coords})"
        )
    if kind == "contacts":
        cards = (
            message.get("contacts") if isinstance(message.get("contacts"), list) else []
        )
        names = [
            str(c.get("name", {}).get("formatted_name", ""))
            for c in cards
            if isinstance(c, dict) and isinstance(c.get("name"), dict)
        ]
        return "👤 Contact card: " + (", ".join(n for n in names if n) or "(no name)")
    if kind == "interactive":
        for reply in ("button_reply", "list_reply", "nfm_reply"):
            if isinstance(body.get(reply), dict):
                title = body[reply].get("title") or body[reply].get("body") or ""
                return f"↩ Replied: {title}"
        return "↩ Interactive reply"
    if kind == "button":
        return f"↩ Button: {body.get('text', '')}"
    if kind == "reaction":
        emoji = body.get("emoji")
        return f"Reacted {emoji}" if emoji else "Removed a reaction"
    if kind == "order":
        items = (
            body.get("product_items")
            if isinstance(body.get("product_items"), list)
            else []
        )
        return f"🛒 Order with {len(items)} item(s)"
    if kind == "system":
        return f"ℹ {body.get('body', 'System message')}"
    errors = message.get("errors") if isinstance(message.get("errors"), list) else []
    title = errors[0].get("title") if errors and isinstance(errors[0], dict) else ""
    return f"Unsupported message ({kind})" + (f": {title}" if title else "")


def _parse_message(message: Any, where: str) -> InboundMessage:
    message = _expect(message, dict, where)
    kind = _text(message, "type", where)
    referral = message.get("referral")
    if referral is not None:
        _expect(referral, dict, f"{where}.referral")
    return InboundMessage(
        wamid=_text(message, "id", where, max_length=MAX_WAMID),
        from_wa_id=_text(message, "from", where, max_length=MAX_WA_ID),
        timestamp=_timestamp(message, where),
        type=kind[:32],
        summary=message_summary(message),
        raw=message,
        referral=referral,
    )


def _parse_status(status: Any, where: str) -> StatusUpdate:
    status = _expect(status, dict, where)
    errors = status.get("errors") or []
    _expect(errors, list, f"{where}.errors")
    code, title = None, ""
    if errors:
        first = _expect(errors[0], dict, f"{where}.errors[0]")
        if first.get("code") is not None:
            code = _expect(first["code"], int, f"{where}.errors[0].code")
            if not -INT32 - 1 <= code <= INT32:
                raise PayloadError(f"{where}.errors[0].code {code} is out of range")
        title = str(first.get("title") or first.get("message") or "")[:300]
    pricing = status.get("pricing")
    if pricing is not None:
        _expect(pricing, dict, f"{where}.pricing")
    return StatusUpdate(
        wamid=_text(status, "id", where, max_length=MAX_WAMID),
        status=_text(status, "status", where),
        timestamp=_timestamp(status, where),
        recipient_id=_text(status, "recipient_id", where, required=False),
        error_code=code,
        error_title=title,
        pricing=pricing,
        raw=status,
    )


def _may_be_unstorable(text: str) -> bool:
    """Whether JSON decoded from ``text`` may hold a NUL or a lone surrogate.

    A decoded string's characters are the text's own or come from its escapes,
    and of the escapes only ``\\uXXXX`` can make a NUL or a surrogate: text
    with neither such a character nor a ``\\u`` decodes to storable strings (a
    ``\\u`` that is not an escape, after an escaped backslash, only costs the
    full check)."""
    return "\\u" in text or _UNSTORABLE.search(text) is not None


def parse_payload(data: Any, *, text: str | None = None) -> ParsedPayload:
    """Parse a decoded webhook body; raise PayloadError on anything malformed.

    Template status and category changes are parsed into ``template_updates``;
    changes of other fields (account updates, …) are kept in the raw delivery
    and reported as ignored. ``text``, the JSON text ``data`` was decoded from,
    spares the walk through every string for unstorable text when the text
    shows there is none (``_may_be_unstorable``): the same outcome, faster.
    """
    data = _expect(data, dict, "body")
    if text is None or _may_be_unstorable(text):
        _storable(data)
    if data.get("object") != "whatsapp_business_account":
        raise PayloadError("body.object must be 'whatsapp_business_account'")
    entries = _expect(data.get("entry"), list, "body.entry")
    parsed = ParsedPayload(changes=[], ignored_fields=[])
    for e, entry in enumerate(entries):
        entry = _expect(entry, dict, f"entry[{e}]")
        changes = _expect(entry.get("changes"), list, f"entry[{e}].changes")
        for c, change in enumerate(changes):
            where = f"entry[{e}].changes[{c}]"
            change = _expect(change, dict, where)
            field_name = _text(change, "field", where)
            value = _expect(change.get("value"), dict, f"{where}.value")
            if field_name in TEMPLATE_FIELDS:
                parsed.template_updates.append(
                    template_update_parse(
                        entry=entry, field=field_name, value=value, where=where
                    )
                )
                continue
            if field_name != "messages":
                parsed.ignored_fields.append(field_name)
                continue
            metadata = _expect(value.get("metadata"), dict, f"{where}.value.metadata")
            item = Change(
                phone_number_id=_text(
                    metadata,
                    "phone_number_id",
                    f"{where}.value.metadata",
                    max_length=MAX_PHONE_NUMBER_ID,
                ),
                display_phone_number=_text(
                    metadata,
                    "display_phone_number",
                    f"{where}.value.metadata",
                    required=False,
                ),
            )
            for k, contact in enumerate(
                _expect(value.get("contacts", []), list, f"{where}.value.contacts")
            ):
                contact = _expect(contact, dict, f"{where}.value.contacts[{k}]")
                profile = contact.get("profile") or {}
                _expect(profile, dict, f"{where}.value.contacts[{k}].profile")
                wa_id = contact.get("wa_id")
                if isinstance(wa_id, str) and isinstance(profile.get("name"), str):
                    item.profiles[wa_id] = profile["name"][:200]
            for m, message in enumerate(
                _expect(value.get("messages", []), list, f"{where}.value.messages")
            ):
                item.messages.append(
                    _parse_message(message, f"{where}.value.messages[{m}]")
                )
            for s, status in enumerate(
                _expect(value.get("statuses", []), list, f"{where}.value.statuses")
            ):
                item.statuses.append(
                    _parse_status(status, f"{where}.value.statuses[{s}]")
                )
            parsed.changes.append(item)
    return parsed
