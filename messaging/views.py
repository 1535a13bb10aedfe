"""The WhatsApp Cloud API webhook endpoint."""

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .exceptions import InvalidSignature, MalformedPayload
from .services import webhook_receive

logger = logging.getLogger(__name__)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request):
    """GET: the verification handshake. POST: signed updates from the provider."""
    if request.method == "GET":
        return _handshake(request)
    body = _body(request)
    if isinstance(body, HttpResponse):
        return body
    try:
        delivery, created = webhook_receive(
            # META, not request.headers (which builds a dict of every header).
            body=body,
            signature=request.META.get("HTTP_X_HUB_SIGNATURE_256"),
        )
    except InvalidSignature as exc:
        logger.warning("Webhook refused: %s", exc.message)
        return JsonResponse({"error": exc.message}, status=403)
    except MalformedPayload as exc:
        logger.warning("Webhook refused: malformed payload")
        return JsonResponse({"error": exc.message}, status=400)
    except DatabaseError:
        # Nothing was stored, or the stored delivery is marked failed and the
        # provider's retry processes it again: ask for that retry.
        logger.exception("Webhook not accepted: database unavailable")
        response = JsonResponse(
            {"error": "Temporarily unavailable, retry later."}, status=503
        )
        response["Retry-After"] = "30"
        return response
    return JsonResponse({"delivery": delivery.pk, "duplicate": not created}, status=200)


def _too_large() -> JsonResponse:
    return JsonResponse({"error": "The body is larger than 3 MB."}, status=413)


def _body(request) -> bytes | HttpResponse:
    """The raw body as sent, or the answer refusing it.

    Django reads no body without a Content-Length. A chunked body (Transfer-
    Encoding, no Content-Length) is read from the WSGI input when the server
    says it ends there (``wsgi.input_terminated``, as gunicorn does); otherwise
    the request is answered 411, not taken for an empty, wrongly signed body.
    """
    limit = settings.WHATSAPP_WEBHOOK_MAX_BYTES
    length = request.META.get("CONTENT_LENGTH")
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not length and chunked:
        if not request.META.get("wsgi.input_terminated"):
            return JsonResponse(
                {"error": "Send the body with a Content-Length header."}, status=411
            )
        body = request.META["wsgi.input"].read(limit + 1)
        return _too_large() if len(body) > limit else body
    length = length or "0"
    if not length.isdigit() or int(length) > limit:
        return _too_large()
    return request.body


def _handshake(request):
    mode = request.GET.get("hub.mode")
    token = request.GET.get("hub.verify_token", "")
    challenge = request.GET.get("hub.challenge", "")
    if mode == "subscribe" and constant_time_compare(
        token, settings.WHATSAPP_VERIFY_TOKEN
    ):
        return HttpResponse(challenge, content_type="text/plain")
    return HttpResponseForbidden("Verification token mismatch.")
