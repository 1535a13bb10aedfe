"""The agent inbox table (django-tables2)."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import rules
from .models import Conversation

EMPTY_INBOX = _(
    "No conversations yet: they appear when a contact writes to one of your "
    "WhatsApp numbers."
)
NO_MATCH = _("No conversations match these filters.")


class ConversationTable(tables.Table):
    """The company's conversations; rows come from ``selectors.inbox_conversations``
    through ``conversations_with_window`` (``unread``, ``window_open``)."""

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
    assigned_to = tables.Column(
        verbose_name=_("Assigned to"),
        order_by=("assigned_to__full_name", "assigned_to__email"),
        default="",
        attrs={
            "th": {"class": "d-none d-lg-table-cell"},
            "td": {"class": "d-none d-lg-table-cell"},
        },
    )
    # The thread's format, so list and thread read the same.
    last_message_at = tables.DateTimeColumn(
        verbose_name=_("Last message"), format="j M Y, H:i"
    )
    window_open = tables.Column(verbose_name=_("Window"))

    class Meta:
        model = Conversation
        fields = (
            "contact",
            "business_number",
            "assigned_to",
            "last_message_at",
            "window_open",
        )
        empty_text = EMPTY_INBOX
        attrs = {"class": "table table-hover align-middle mb-0"}
        row_attrs = {
            "class": lambda record: "unread" if getattr(record, "unread", 0) else "",
            "data-conversation": lambda record: record.pk,
        }

    def __init__(self, *args, at, user=None, **kwargs):
        self.at = at
        self.user = user
        super().__init__(*args, **kwargs)

    def render_contact(self, record: Conversation):
        contact = record.contact
        unread = getattr(record, "unread", 0)
        badge = ""
        if unread:
            badge = format_html(
                ' <span class="badge rounded-pill text-bg-primary unread-count" '
                'title="{}">{}</span>',
                ngettext("%(n)s unread message", "%(n)s unread messages", unread)
                % {"n": unread},
                unread,
            )
        return format_html(
            '<a class="fw-semibold text-decoration-none" href="{}">{}</a>{}'
            '<div class="text-muted small">{}</div>',
            reverse("conversation", kwargs={"pk": record.pk}),
            contact.profile_name or _("Unknown contact"),
            badge,
            contact.masked_number,
        )

    def render_assigned_to(self, value):
        if self.user is not None and value.pk == self.user.pk:
            return _("Me")
        return str(value)

    def render_window_open(self, record: Conversation):
        phase = rules.window_phase(last_inbound_at=record.last_inbound_at, at=self.at)
        if phase == rules.WindowPhase.OPEN:
            return format_html(
                '<span class="badge text-bg-success">{}</span>', _("Open")
            )
        if phase == rules.WindowPhase.CLOSING:
            closes = rules.window_closes_at(last_inbound_at=record.last_inbound_at)
            return format_html(
                '<span class="badge text-bg-warning">{}</span>'
                '<div class="small text-muted">{}</div>',
                _("Closing"),
                _("until %(time)s") % {"time": date_format(localtime(closes), "H:i")},
            )
        return format_html(
            '<span class="badge text-bg-secondary">{}</span>', _("Closed")
        )
