"""Send WhatsApp messages: the sandbox for demos and tests, the Cloud API for real.

A transport takes a ready request body (see ``messaging.payloads``) and returns the
WhatsApp message id (``wamid``) Meta assigned, or raises ``TransportError``. It
knows nothing about conversations, windows or licences: services decide whether a
message may be sent, transports only deliver it.

``get_transport()`` picks the implementation from ``settings.WHATSAPP_TRANSPORT``.
Settings are read when a transport is built, never at import time.
"""

import base64
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .exceptions import TransportError

logger = logging.getLogger(__name__)

TRANSPORT_SANDBOX = "sandbox"
TRANSPORT_CLOUD_API = "cloud_api"


@dataclass(frozen=True)
class SendResult:
    """What Meta answered for an accepted message."""

    # Meta's id for the message; delivery status webhooks refer to it.
    wamid: str
    # The recipient's WhatsApp id as Meta resolved it; absent in some answers.
    wa_id: str | None


@dataclass(frozen=True)
class ProviderError:
    """How to present one of Meta's numeric error codes to a person."""

    title: str
    message: str
    # Whether sending the same message again later can succeed without a change.
    transient: bool = False


# Meta's Cloud API error codes (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
# Messages are written for the agent or administrator who will read them.
PROVIDER_ERRORS: dict[int, ProviderError] = {
    # Throttling: the same request succeeds once the limit resets.
    4: ProviderError(
        title="Too many API calls",
        message="The app made too many calls to the WhatsApp API; try again shortly.",
        transient=True,
    ),
    80007: ProviderError(
        title="Rate limit issues",
        message=(
            "The WhatsApp Business Account reached its API rate limit; "
            "try again shortly."
        ),
        transient=True,
    ),
    130429: ProviderError(
        title="Rate limit hit",
        message=(
            "Rate limit hit: the Cloud API message throughput for this number has "
            "been reached; try again shortly."
        ),
        transient=True,
    ),
    131056: ProviderError(
        title="Pair rate limit hit",
        message=(
            "Too many messages were sent to this customer in a short time; "
            "try again shortly."
        ),
        transient=True,
    ),
    # Meta-side outages.
    2: ProviderError(
        title="API service unavailable",
        message=(
            "The WhatsApp API is temporarily unavailable (downtime or overload); "
            "try again shortly."
        ),
        transient=True,
    ),
    131016: ProviderError(
        title="Service unavailable",
        message="A WhatsApp service is temporarily unavailable; try again shortly.",
        transient=True,
    ),
    133004: ProviderError(
        title="Server temporarily unavailable",
        message="The WhatsApp server is temporarily unavailable; try again shortly.",
        transient=True,
    ),
    # Everything below needs a change before a resend can succeed.
    10: ProviderError(
        title="Permission denied",
        message=(
            "The access token lacks the permission to send from this phone number; "
            "an administrator must grant whatsapp_business_messaging."
        ),
    ),
    100: ProviderError(
        title="Invalid parameter",
        message=(
            "Invalid parameter: Meta rejected a field of the message "
            "(for example the recipient number or the phone number id)."
        ),
    ),
    190: ProviderError(
        title="Access token has expired",
        message=(
            "The WhatsApp access token has expired or is invalid; an administrator "
            "must replace WHATSAPP_ACCESS_TOKEN."
        ),
    ),
    131026: ProviderError(
        title="Message undeliverable",
        message=(
            "Message undeliverable: the number may not be on WhatsApp, or the "
            "customer has not accepted WhatsApp's latest terms."
        ),
    ),
    131030: ProviderError(
        title="Recipient not in allowed list",
        message=(
            "The recipient is not in this test number's allowed list; add it in "
            "the Meta app dashboard or send from a production number."
        ),
    ),
    131031: ProviderError(
        title="Account has been locked",
        message=(
            "Meta locked the WhatsApp Business Account, for example after a policy "
            "violation; nothing can be sent until it is unlocked."
        ),
    ),
    131047: ProviderError(
        title="Re-engagement message",
        message=(
            "More than 24 hours have passed since the customer last replied, so a "
            "free-form message cannot be sent; send an approved template instead."
        ),
    ),
    131049: ProviderError(
        title="Not delivered to maintain healthy ecosystem engagement",
        message=(
            "Meta did not deliver this message to maintain healthy ecosystem "
            "engagement; do not resend it right away."
        ),
    ),
    131051: ProviderError(
        title="Unsupported message type",
        message="WhatsApp does not support this message type.",
    ),
    132000: ProviderError(
        title="Template param count mismatch",
        message=(
            "The number of template parameters does not match the number of "
            "variables in the approved template."
        ),
    ),
    132001: ProviderError(
        title="Template does not exist",
        message=(
            "The template does not exist in this language or has not been approved yet."
        ),
    ),
    132015: ProviderError(
        title="Template is paused",
        message="Meta paused this template because of low quality ratings.",
    ),
    132016: ProviderError(
        title="Template is disabled",
        message="Meta disabled this template because of low quality ratings.",
    ),
}

INVALID_PARAMETER_CODE = 100
MISSING_MESSAGE_ID_MESSAGE = (
    "The WhatsApp Cloud API accepted the request but returned no message id; the "
    "message may or may not have been sent."
)
TIMEOUT_MESSAGE = (
    "The WhatsApp Cloud API did not answer in time; the message may or may not "
    "have been sent. Try again shortly."
)
CONNECTION_MESSAGE = "Could not reach the WhatsApp Cloud API; try again shortly."
UNREADABLE_ERROR_MESSAGE = (
    "The WhatsApp Cloud API answered HTTP {status} without an error description."
)
_GRAPH_CODE_PREFIX = re.compile(r"^\(#\d+\)\s*")


class Transport(Protocol):
    """Deliver one message body to WhatsApp."""

    def send(self, *, phone_number_id: str, payload: dict) -> SendResult:
        """Send ``payload`` from the business number ``phone_number_id``."""
        ...


class SandboxTransport:
    """Pretend to send: no network, a fresh fake ``wamid`` for every message.

    Used by the demo and by tests, so it still refuses a body no real API would
    accept rather than hiding a bug until production.
    """

    def send(self, *, phone_number_id: str, payload: dict) -> SendResult:
        """Check the body's essentials and return a unique sandbox ``wamid``."""
        for field in ("to", "type"):
            value = payload.get(field) if isinstance(payload, dict) else None
            if not isinstance(value, str) or not value:
                known = PROVIDER_ERRORS[INVALID_PARAMETER_CODE]
                raise TransportError(
                    known.message,
                    provider_code=INVALID_PARAMETER_CODE,
                    title=known.title,
                    transient=False,
                    parameter=field,
                )
        # Real wamids are base64 too; the SANDBOX marker keeps them recognisable.
        unique = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        return SendResult(wamid=f"wamid.SANDBOX{unique}", wa_id=payload["to"])


class CloudApiTransport:
    """Send through Meta's WhatsApp Cloud API (Graph API ``sendMessage``)."""

    def __init__(
        self,
        *,
        base_url: str,
        version: str,
        token: str,
        timeout: float,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.version = version
        self._token = token
        self.timeout = timeout
        self.session = session if session is not None else requests.Session()

    def __repr__(self) -> str:
        # Keep the token out of reprs, which logs and error reports print.
        return f"<CloudApiTransport {self.base_url}/{self.version}>"

    @classmethod
    def from_settings(cls) -> "CloudApiTransport":
        """Return a transport configured by the ``WHATSAPP_API_*`` settings."""
        token = settings.WHATSAPP_ACCESS_TOKEN
        if not token:
            raise ImproperlyConfigured(
                "WHATSAPP_TRANSPORT is 'cloud_api' but WHATSAPP_ACCESS_TOKEN is empty; "
                "set it to a system user access token."
            )
        return cls(
            base_url=settings.WHATSAPP_API_BASE_URL,
            version=settings.WHATSAPP_API_VERSION,
            token=token,
            timeout=float(settings.WHATSAPP_API_TIMEOUT),
        )

    def messages_url(self, *, phone_number_id: str) -> str:
        """Return the ``sendMessage`` endpoint for ``phone_number_id``."""
        return f"{self.base_url}/{self.version}/{phone_number_id}/messages"

    def send(self, *, phone_number_id: str, payload: dict) -> SendResult:
        """POST ``payload`` and return Meta's ``wamid``, or raise ``TransportError``.

        Nothing here logs the token or the message body: both are secrets of a kind.
        """
        try:
            response = self.session.post(
                self.messages_url(phone_number_id=phone_number_id),
                json=payload,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self.timeout,
            )
        except requests.ConnectTimeout as exc:
            # No connection, so nothing was sent: safe to retry, unlike a read timeout.
            self._log_failure(phone_number_id=phone_number_id, reason="connect timeout")
            raise TransportError(
                CONNECTION_MESSAGE, title="Connection error", transient=True
            ) from exc
        except requests.Timeout as exc:
            # Transient, but not free to retry: after a read timeout Meta may have
            # sent the message, and the Cloud API has no idempotency key.
            self._log_failure(phone_number_id=phone_number_id, reason="timeout")
            raise TransportError(
                TIMEOUT_MESSAGE, title="Timeout", transient=True
            ) from exc
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            self._log_failure(phone_number_id=phone_number_id, reason="connection")
            raise TransportError(
                CONNECTION_MESSAGE, title="Connection error", transient=True
            ) from exc
        except requests.RequestException as exc:
            # Invalid URL and the like: a configuration problem a retry cannot fix.
            self._log_failure(
                phone_number_id=phone_number_id, reason=type(exc).__name__
            )
            raise TransportError(
                f"Could not call the WhatsApp Cloud API: {type(exc).__name__}.",
                title="Request error",
            ) from exc
        return self._result(response=response, phone_number_id=phone_number_id)

    def _result(
        self, *, response: requests.Response, phone_number_id: str
    ) -> SendResult:
        """Return the ``SendResult`` in ``response`` or raise its ``TransportError``."""
        try:
            data = response.json()
        except ValueError:
            data = None
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            exc = TransportError.from_provider_error(
                error=error, http_status=response.status_code
            )
            self._log_failure(phone_number_id=phone_number_id, error=exc)
            raise exc
        if not response.ok:
            # A proxy or load balancer page rather than a Graph API answer.
            status = response.status_code
            exc = TransportError(
                UNREADABLE_ERROR_MESSAGE.format(status=status),
                title=f"HTTP {status}",
                transient=status >= 500 or status == 429,
                http_status=status,
            )
            self._log_failure(phone_number_id=phone_number_id, error=exc)
            raise exc
        wamid = _first(data, "messages", "id")
        if not wamid:
            exc = TransportError(
                MISSING_MESSAGE_ID_MESSAGE,
                title="No message id",
                http_status=response.status_code,
            )
            self._log_failure(phone_number_id=phone_number_id, error=exc)
            raise exc
        return SendResult(wamid=wamid, wa_id=_first(data, "contacts", "wa_id"))

    def _log_failure(
        self,
        *,
        phone_number_id: str,
        error: TransportError | None = None,
        reason: str = "",
    ) -> None:
        """Log a failed send with ids and codes only, never the token or the body."""
        if error is None:
            logger.warning(
                "WhatsApp send failed: %s (phone_number_id=%s)", reason, phone_number_id
            )
            return
        logger.warning(
            "WhatsApp send failed: code=%s title=%r http_status=%s transient=%s "
            "fbtrace_id=%s (phone_number_id=%s)",
            error.provider_code,
            error.title,
            error.http_status,
            error.transient,
            error.context.get("fbtrace_id"),
            phone_number_id,
        )


def _first(data: Any, list_key: str, field: str) -> str | None:
    """Return ``data[list_key][0][field]`` if it is a non-empty string, else ``None``."""
    items = data.get(list_key) if isinstance(data, dict) else None
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        return None
    value = items[0].get(field)
    return value if isinstance(value, str) and value else None


def get_transport() -> Transport:
    """Return the transport chosen by ``settings.WHATSAPP_TRANSPORT``."""
    name = settings.WHATSAPP_TRANSPORT
    if name == TRANSPORT_SANDBOX:
        return SandboxTransport()
    if name == TRANSPORT_CLOUD_API:
        return CloudApiTransport.from_settings()
    raise ImproperlyConfigured(
        f"WHATSAPP_TRANSPORT is {name!r}; it must be {TRANSPORT_SANDBOX!r} or "
        f"{TRANSPORT_CLOUD_API!r}."
    )
