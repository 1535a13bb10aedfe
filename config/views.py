"""Project-wide error answers."""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseServerError, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import requires_csrf_token

logger = logging.getLogger(__name__)

# Seconds a client should wait before trying again while the database is away.
RETRY_AFTER = "30"
# What psycopg (wrapped by Django) raises when the database cannot be reached or
# the connection was lost; any other error is a bug and stays a 500.
UNAVAILABLE = (OperationalError, InterfaceError)


@requires_csrf_token
def server_error(request, template_name="500.html"):
    """handler500: a database outage is a 503 with Retry-After (JSON under
    /api/, a plain page elsewhere), whichever layer met it (the session, the
    token lookup, a view). Everything else is a 500 with templates/500.html.

    Both pages are rendered without the request: its context processors would
    read the session and the user from the database, which may be the failure."""
    exc = sys.exc_info()[1]
    if not isinstance(exc, UNAVAILABLE):
        return HttpResponseServerError(
            render_to_string(template_name, {"LANGUAGE_CODE": get_language()})
        )
    logger.warning(
        "Answered 503 to %s %s: database unavailable (%s)",
        request.method,
        request.path,
        type(exc).__name__,
    )
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": _("Temporarily unavailable, retry later.")}, status=503
        )
    else:
        response = HttpResponse(
            render_to_string("503.html", {"LANGUAGE_CODE": get_language()}),
            status=503,
        )
    response["Retry-After"] = RETRY_AFTER
    return response
