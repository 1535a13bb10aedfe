"""Inbox filters (django-filter), shared by the agent inbox and the JSON API."""

import re
from datetime import datetime

import django_filters
from django import forms
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from .models import BusinessNumber, Conversation, Message
from .windows import window_closing_q, window_open_q

WINDOW_OPEN = "open"
WINDOW_CLOSED = "closed"


def conversations_with_window(
    queryset: QuerySet[Conversation], *, at: datetime
) -> QuerySet[Conversation]:
    """Annotate ``window_open`` (bool) at ``at``, so lists need no query per row."""
    # CASE, not the bare condition: a conversation without inbound messages must
    # read False (closed), never NULL, or "closed" filters would drop it.
    return queryset.annotate(
        window_open=Case(
            When(window_open_q(at=at), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def _company_numbers(request) -> QuerySet[BusinessNumber]:
    """Offer only the numbers of the user's own company."""
    if request is None or not request.user.is_authenticated:
        return BusinessNumber.objects.none()
    return BusinessNumber.objects.filter(company_id=request.user.company_id)


class ConversationFilter(django_filters.FilterSet):
    """Filter conversations by business number and window state.

    The queryset must come through ``conversations_with_window`` (the window
    filter reads its ``window_open`` annotation).
    """

    business_number = django_filters.ModelChoiceFilter(
        queryset=_company_numbers,
        label=_("Business number"),
        empty_label=_("All numbers"),
    )
    window = django_filters.ChoiceFilter(
        choices=[(WINDOW_OPEN, _("Open")), (WINDOW_CLOSED, _("Closed"))],
        method="filter_window",
        label=_("Window"),
        empty_label=_("Open or closed"),
    )

    class Meta:
        model = Conversation
        fields = ["business_number", "window"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            field.widget.attrs.setdefault("class", "form-select form-select-sm")

    def filter_window(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(window_open=value == WINDOW_OPEN)

    @property
    def is_filtering(self) -> bool:
        """Whether the user asked for any filter (for the empty-state message)."""
        return self.is_bound and any(self.data.get(name) for name in self.filters)


WINDOW_CLOSING = "closing"
ASSIGNED_MINE = "mine"
ASSIGNED_NOBODY = "unassigned"
ASSIGNED_ALL = "all"
SEARCH_MAX_LENGTH = 200


def _search_words(value: str) -> list[str]:
    """The words of a search, letters and digits only (so nothing reaches the
    full text query's syntax)."""
    return re.findall(r"\w+", value)[:10]


def conversation_search_q(value: str) -> Q:
    """Conversations whose contact's name or number, or any message's text,
    matches ``value``.

    Names: every word in the name (icontains). Numbers: the digits typed, found
    anywhere in the WhatsApp id (spaces, "+" and dashes ignored). Message text:
    PostgreSQL full text search (``simple`` configuration, so English and
    Spanish alike; every word as a prefix, GIN index of the 0004 migration);
    elsewhere every word as icontains.
    """
    words = _search_words(value)
    if not words:
        return Q()
    name = Q()
    for word in words:
        name &= Q(contact__profile_name__icontains=word)
    match = name
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 3:
        match |= Q(contact__wa_id__contains=digits)
    messages = Message.objects.filter(conversation=OuterRef("pk"))
    if connection.vendor == "postgresql":
        query = SearchQuery(
            " & ".join(f"{word}:*" for word in words),
            config="simple",
            search_type="raw",
        )
        messages = messages.annotate(
            search=SearchVector("body", config="simple")
        ).filter(search=query)
    else:
        for word in words:
            messages = messages.filter(body__icontains=word)
    return match | Q(Exists(messages))


class InboxFilter(ConversationFilter):
    """The agent inbox's filters: search, window open / closing within 1 h /
    closed, unread, assigned (to me, to nobody, to anyone), business number.

    The queryset comes from ``selectors.inbox_conversations`` (``unread``) and
    ``conversations_with_window`` (``window_open``); ``at`` is the instant the
    window states are read at. ``default_assigned`` is the view when the
    request names none ("mine" for licensed agents).
    """

    q = django_filters.CharFilter(
        method="filter_search",
        label=_("Search"),
        max_length=SEARCH_MAX_LENGTH,
    )
    window = django_filters.ChoiceFilter(
        choices=[
            (WINDOW_OPEN, _("Open")),
            (WINDOW_CLOSING, _("Closing within 1 h")),
            (WINDOW_CLOSED, _("Closed")),
        ],
        method="filter_window",
        label=_("Window"),
        empty_label=_("Any window"),
    )
    unread = django_filters.BooleanFilter(
        method="filter_unread",
        label=_("Unread only"),
        widget=forms.CheckboxInput,
    )
    assigned = django_filters.ChoiceFilter(
        choices=[
            (ASSIGNED_MINE, _("Assigned to me")),
            (ASSIGNED_NOBODY, _("Unassigned")),
            (ASSIGNED_ALL, _("All conversations")),
        ],
        method="filter_assigned",
        label=_("Assigned"),
        empty_label=None,
    )

    class Meta:
        model = Conversation
        fields = ["q", "assigned", "window", "unread", "business_number"]

    def __init__(self, data=None, *args, at, default_assigned=ASSIGNED_ALL, **kwargs):
        data = data.copy() if data is not None else QueryDict(mutable=True)
        if not data.get("assigned"):
            data["assigned"] = default_assigned
        self.at = at
        self.default_assigned = default_assigned
        super().__init__(data, *args, **kwargs)
        self.form.fields["q"].widget.attrs.update(
            {
                "class": "form-control form-control-sm",
                "type": "search",
                "placeholder": _("Name, number or message text"),
            }
        )
        self.form.fields["unread"].widget.attrs["class"] = "form-check-input"

    def filter_search(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        return queryset.filter(conversation_search_q(value))

    def filter_window(self, queryset, name, value):
        if value == WINDOW_CLOSING:
            return queryset.filter(window_closing_q(at=self.at))
        return super().filter_window(queryset, name, value)

    def filter_unread(self, queryset, name, value):
        return queryset.filter(unread__gt=0) if value else queryset

    def filter_assigned(self, queryset, name, value):
        if value == ASSIGNED_MINE:
            return queryset.filter(assigned_to=self.request.user)
        if value == ASSIGNED_NOBODY:
            return queryset.filter(assigned_to__isnull=True)
        return queryset

    @property
    def is_filtering(self) -> bool:
        """Whether a search or filter narrows the list (the assigned view is a
        tab, not a filter)."""
        if not self.is_bound:
            return False
        for name in self.filters:
            value = self.data.get(name)
            if name == "assigned":
                continue
            if name == "unread":
                if value in ("true", "on", "True", "1"):
                    return True
            elif value:
                return True
        return False
