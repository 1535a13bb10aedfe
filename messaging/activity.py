"""Messaging's answer to ``licensing.activity.SendActivity``: how license holders
send, from their outbound messages. Registered in ``MessagingConfig.ready()``."""

from collections.abc import Mapping
from datetime import datetime
from functools import reduce
from operator import or_

from django.db.models import Count, Max, Q, QuerySet

from licensing.models import LicenseAssignment

_SENT = "user__sent_messages__"


def _sent_this_month_q(*, months: Mapping[str, tuple[datetime, datetime]]) -> Q:
    """Messages sent in the billing month of the assignment's company's zone.

    With several zones (the admin lists every company) each zone's month is
    matched to the companies billed in it: still one query.
    """
    parts = []
    for zone, (start, end) in months.items():
        part = Q(
            **{f"{_SENT}provider_timestamp__gte": start},
            **{f"{_SENT}provider_timestamp__lt": end},
        )
        if len(months) > 1:
            part &= Q(company__billing_timezone=zone)
        parts.append(part)
    return reduce(or_, parts) if parts else Q(pk__in=[])


class MessageSendActivity:
    """License holders' sends, counted from ``Message`` (direction out)."""

    def assignments_with_sends(
        self,
        queryset: QuerySet[LicenseAssignment],
        *,
        months: Mapping[str, tuple[datetime, datetime]],
    ) -> QuerySet[LicenseAssignment]:
        outbound = Q(**{f"{_SENT}direction": "out"})
        this_month = outbound & _sent_this_month_q(months=months)
        return queryset.annotate(
            messages_this_month=Count("user__sent_messages", filter=this_month),
            templates_this_month=Count(
                "user__sent_messages",
                filter=this_month & Q(**{f"{_SENT}template__isnull": False}),
            ),
            last_sent_at=Max(f"{_SENT}provider_timestamp", filter=outbound),
        )

    def assignments_with_last_send(
        self, queryset: QuerySet[LicenseAssignment]
    ) -> QuerySet[LicenseAssignment]:
        return queryset.annotate(
            last_sent_at=Max(
                f"{_SENT}provider_timestamp", filter=Q(**{f"{_SENT}direction": "out"})
            )
        )
