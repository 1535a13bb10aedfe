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
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > settings.WHATSAPP_WEBHOOK_MAX_BYTES:
        return JsonResponse({"error": "The body is larger than 3 MB."}, status=413)
    body = request.body
    try:
        delivery, created = webhook_receive(
            body=body, signature=request.headers.get("X-Hub-Signature-256")
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


def _handshake(request):
    mode = request.GET.get("hub.mode")
    token = request.GET.get("hub.verify_token", "")
    challenge = request.GET.get("hub.challenge", "")
    if mode == "subscribe" and constant_time_compare(
        token, settings.WHATSAPP_VERIFY_TOKEN
    ):
        return HttpResponse(challenge, content_type="text/plain")
    return HttpResponseForbidden("Verification token mismatch.")
