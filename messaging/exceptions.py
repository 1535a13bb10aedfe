"""Messaging's errors: the refusals of its services (DomainError subclasses),
the transport's and the webhook parser's."""

from typing import Any

from accounts.exceptions import DomainError


class InvalidSignature(DomainError):
    code = "invalid_signature"


class MalformedPayload(DomainError):
    code = "malformed_payload"


class WindowClosed(DomainError):
    code = "window_closed"


class TemplateNotSendable(DomainError):
    code = "template_not_sendable"


class AssignmentRefused(DomainError):
    """A conversation may not be assigned to that user (``rules.assignment_refusal``)."""

    code = "assignment_refused"


class TemplatePaused(TemplateNotSendable):
    """F9: the provider paused the template (its quality); answered 422."""

    code = "template_paused"


class TemplateDisabled(TemplateNotSendable):
    """F9: the provider disabled the template; answered 422."""

    code = "template_disabled"


class OptInMissing(DomainError):
    """F8: a business-initiated template to a contact who has not opted in to
    the business number (answered 409)."""

    code = "opt_in_missing"


class InvalidMessage(DomainError):
    code = "invalid_message"


class InvalidPhoneNumber(InvalidMessage):
    """A recipient number that is not valid, or not one WhatsApp can reach
    (answered 422); ``reason`` is the rules.PhoneRefusal code."""

    code = "invalid_phone_number"


class ContactImportInvalid(DomainError):
    """A contact CSV with bad rows: nothing was imported; ``errors`` lists
    (line, message) for every bad row."""

    code = "contact_import_invalid"

    def __init__(self, message: str, *, errors: list[tuple[int, str]]):
        super().__init__(message, errors=errors)
        self.errors = errors


class IdempotencyKeyReused(InvalidMessage):
    """The sender used the key before for another request (answered 422)."""

    code = "idempotency_key_reused"


class PayloadError(ValueError):
    """The body is not a WhatsApp webhook payload; the message says where."""


class TransportError(DomainError):
    """Meta refused the message, or its answer never arrived.

    Only after a timeout can the message have gone out anyway (see
    ``transports.CloudApiTransport.send``).
    ``transient`` tells a retrying caller (a Celery task) whether sending the same
    payload again later can succeed; ``provider_code`` is Meta's numeric code,
    or ``None`` when Meta never answered with one.
    """

    code = "transport_error"

    def __init__(
        self,
        message: str,
        *,
        provider_code: int | None = None,
        title: str = "",
        transient: bool = False,
        http_status: int | None = None,
        **context: Any,
    ):
        super().__init__(
            message,
            provider_code=provider_code,
            title=title,
            transient=transient,
            http_status=http_status,
            **context,
        )
        self.provider_code = provider_code
        self.title = title
        self.transient = transient
        self.http_status = http_status

    @classmethod
    def from_provider_error(
        cls, *, error: dict, http_status: int | None = None
    ) -> "TransportError":
        """Return the error for Meta's ``{"error": {...}}`` envelope body ``error``.

        Known codes get a message written for people; unknown ones keep Meta's own.
        """
        # Meta's error catalogue is the transport's (imported here, not at the
        # top: the transports module imports this one).
        from .transports import (
            _GRAPH_CODE_PREFIX,
            PROVIDER_ERRORS,
            UNREADABLE_ERROR_MESSAGE,
        )

        raw_code = error.get("code")
        provider_code = raw_code if isinstance(raw_code, int) else None
        provider_message = str(error.get("message") or "")
        error_data = error.get("error_data")
        details = error_data.get("details") if isinstance(error_data, dict) else None
        known = (
            PROVIDER_ERRORS.get(provider_code) if provider_code is not None else None
        )
        # A 5xx is Meta's own failure even under a code we do not know.
        server_side = http_status is not None and http_status >= 500
        if known is not None:
            message, title = known.message, known.title
            transient = known.transient or server_side
        else:
            message = provider_message or UNREADABLE_ERROR_MESSAGE.format(
                status=http_status
            )
            # Graph API messages read "(#131009) Parameter value is not valid":
            # without the code prefix that is Meta's title for the error.
            title = _GRAPH_CODE_PREFIX.sub("", provider_message)
            transient = server_side
        return cls(
            message,
            provider_code=provider_code,
            title=title,
            transient=transient,
            http_status=http_status,
            provider_message=provider_message,
            details=details,
            error_subcode=error.get("error_subcode"),
            # Meta support asks for this id when investigating a failed call.
            fbtrace_id=error.get("fbtrace_id"),
        )
