"""The agent inbox table (django-tables2)."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Conversation

EMPTY_INBOX = _(
    "No conversations yet: they appear when a contact writes to one of your "
    "WhatsApp numbers."
)
NO_MATCH = _("No conversations match these filters.")


class ConversationTable(tables.Table):
    """The company's conversations; rows come from ``conversations_with_window``."""

    contact = tables.Column(
        verbose_name=_("Contact"),
        order_by=("contact__profile_name", "contact__wa_id"),
    )
    business_number = tables.Column(
        verbose_name=_("Business number"),
        order_by=("business_number__display_phone_number",),
        # Hidden on phones: the contact, the time and the window matter most.
        attrs={
            "th": {"class": "d-none d-md-table-cell"},
            "td": {"class": "d-none d-md-table-cell"},
        },
    )
    # The thread's format, so list and thread read the same.
    last_message_at = tables.DateTimeColumn(
        verbose_name=_("Last message"), format="j M Y, H:i"
    )
    window_open = tables.Column(verbose_name=_("Window"))

    class Meta:
        model = Conversation
        fields = ("contact", "business_number", "last_message_at", "window_open")
        empty_text = EMPTY_INBOX
        attrs = {"class": "table table-hover align-middle mb-0"}

    def render_contact(self, record: Conversation):
        contact = record.contact
        return format_html(
            '<a class="fw-semibold text-decoration-none" href="{}">{}</a>'
            '<div class="text-muted small">{}</div>',
            reverse("conversation", kwargs={"pk": record.pk}),
            contact.profile_name or _("Unknown contact"),
            contact.masked_number,
        )

    def render_window_open(self, value: bool):
        if value:
            return format_html(
                '<span class="badge text-bg-success">{}</span>', _("Open")
            )
        return format_html(
            '<span class="badge text-bg-secondary">{}</span>', _("Closed")
        )
