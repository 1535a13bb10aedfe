"""Inbox filters (django-filter), shared by the agent inbox and the JSON API."""

from datetime import datetime

import django_filters
from django.db.models import BooleanField, Case, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from .models import BusinessNumber, Conversation
from .windows import window_open_q

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
