from accounts.exceptions import DomainError


class InvalidSignature(DomainError):
    code = "invalid_signature"


class MalformedPayload(DomainError):
    code = "malformed_payload"


class WindowClosed(DomainError):
    code = "window_closed"


class TemplateNotSendable(DomainError):
    code = "template_not_sendable"


class InvalidMessage(DomainError):
    code = "invalid_message"


class IdempotencyKeyReused(InvalidMessage):
    """The sender used the key before for another request (answered 422)."""

    code = "idempotency_key_reused"
