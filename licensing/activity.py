"""What licensing needs to know of how its license holders send, declared here
so that licensing never imports messaging (README "Layering").

The license insight (/licenses/, the assignments in the admin, the idle-license
notices) combines licenses with the holders' outbound messages. Messaging owns
those messages and may import licensing, so it answers the questions below and
registers its answer in ``MessagingConfig.ready()`` (``messaging/activity.py``);
licensing's selectors ask ``provider()`` without knowing where the messages are.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet

from .models import LicenseAssignment


class SendActivity(Protocol):
    def assignments_with_sends(
        self,
        queryset: QuerySet[LicenseAssignment],
        *,
        months: Mapping[str, tuple[datetime, datetime]],
    ) -> QuerySet[LicenseAssignment]:
        """Annotate each assignment with its user's outbound messages, in one query.

        ``months`` maps each billing time zone involved to the UTC bounds
        [start, end) of its month; an assignment counts the sends in the month
        of its company's zone. Annotations: ``messages_this_month`` (templates
        included), ``templates_this_month`` and ``last_sent_at`` (the user's
        latest outbound message at any time, also before this assignment).
        """
        ...

    def assignments_with_last_send(
        self, queryset: QuerySet[LicenseAssignment]
    ) -> QuerySet[LicenseAssignment]:
        """Annotate ``last_sent_at``: the user's latest outbound message, or None."""
        ...


_provider: SendActivity | None = None


def register(provider: SendActivity) -> None:
    """Install the app that answers ``SendActivity`` (messaging, on ready)."""
    global _provider
    _provider = provider


def provider() -> SendActivity:
    if _provider is None:
        raise ImproperlyConfigured(
            "No send activity is registered for the license insight: "
            "messaging registers it when its app is ready (INSTALLED_APPS)."
        )
    return _provider
