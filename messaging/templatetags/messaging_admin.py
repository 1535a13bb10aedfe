"""Admin index notices of the messaging app."""

from django import template
from django.urls import reverse

from messaging import selectors

register = template.Library()


@register.inclusion_tag("admin/messaging/dead_letters_notice.html", takes_context=True)
def dead_letters_notice(context):
    """How many webhook deliveries are dead letters, for who may view deliveries."""
    request = context.get("request")
    if request is None or not request.user.has_perm("messaging.view_webhookdelivery"):
        return {"count": 0}
    return {
        "count": selectors.dead_deliveries().count(),
        "url": reverse("admin:messaging_webhookdelivery_changelist") + "?dead=yes",
    }
