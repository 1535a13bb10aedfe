"""The agent inbox: conversation list, thread and composer.

Every company user reads every conversation of the company (A4). Sending goes
through ``services.message_send``, which decides whether it is allowed; these
views only show its answer. GETs never write: read markers and assignments
are POSTs (the thread page posts its read marker itself).
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from accounts.decorators import company_user_required
from accounts.exceptions import DomainError
from licensing.selectors import license_holders, user_holds_license

from . import rules, selectors
from .exceptions import WindowClosed
from .filters import (
    ASSIGNED_ALL,
    ASSIGNED_MINE,
    InboxFilter,
    conversations_with_window,
)
from .forms import MessageSendForm, param_field_name
from .models import Conversation, MessageTemplate
from .services import (
    conversation_assign,
    conversation_mark_read,
    message_send,
    window_closed_message,
)
from .tables import NO_MATCH, ConversationTable

INBOX_PAGE_SIZE = 25
THREAD_PAGE_SIZE = 50
# How often the thread and the list ask for news (htmx polling), in seconds.
THREAD_POLL_SECONDS = 4
INBOX_POLL_SECONDS = 10


def _conversation_or_404(request, pk: int) -> Conversation:
    try:
        return selectors.conversation_get(user=request.user, pk=pk)
    except Conversation.DoesNotExist as exc:
        # Another company's conversation looks exactly like a missing one.
        raise Http404(_("No such conversation.")) from exc


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def default_assigned_view(*, user, at) -> str:
    """Agents who can answer (licensed senders) start on their own
    conversations; everyone else (admins, readers) on all of them."""
    if not user.is_company_admin and user_holds_license(user=user, at=at):
        return ASSIGNED_MINE
    return ASSIGNED_ALL


@require_GET
@company_user_required
def inbox(request):
    """List the company's conversations, newest first, with search and filters."""
    at = timezone.now()
    base = selectors.inbox_conversations(user=request.user)
    queryset = conversations_with_window(base, at=at)
    filterset = InboxFilter(
        request.GET,
        queryset=queryset,
        request=request,
        at=at,
        default_assigned=default_assigned_view(user=request.user, at=at),
    )
    # An invalid choice (another company's number) is reported on the form and
    # ignored; the other filters still apply (django-filter's own behaviour).
    table = ConversationTable(filterset.qs, at=at, user=request.user)
    RequestConfig(request, paginate={"per_page": INBOX_PAGE_SIZE}).configure(table)
    if filterset.is_filtering:
        table.empty_text = NO_MATCH
    assigned = filterset.form.cleaned_data.get("assigned") or ASSIGNED_ALL
    return render(
        request,
        "messaging/inbox.html",
        {
            "table": table,
            "filter": filterset,
            "assigned": assigned or ASSIGNED_ALL,
            "company": request.user.company,
            "poll_seconds": INBOX_POLL_SECONDS,
            "is_empty": not filterset.is_filtering
            and (assigned or ASSIGNED_ALL) == ASSIGNED_ALL
            and table.paginator.count == 0,
        },
    )


def _window_display(conv: Conversation, at) -> dict:
    """What the thread shows about the window at ``at``: its phase, when it
    closes (for the countdown) and the time left (the server-rendered text)."""
    state = selectors.window_state(conversation=conv, at=at)
    phase = rules.window_phase(last_inbound_at=state.last_inbound_at, at=at)
    display = {"state": phase, "is_open": state.is_open, "closes_at": state.closes_at}
    if state.is_open:
        minutes = int((state.closes_at - at).total_seconds() // 60)
        zone = conv.company.zone
        display.update(
            hours=minutes // 60,
            minutes=minutes % 60,
            closes_today=state.closes_at.astimezone(zone).date()
            == at.astimezone(zone).date(),
        )
    return display


def _thread_messages(messages_: list) -> list[dict]:
    """Each message with what the thread shows of a failure: the reason in
    plain words and whether a template would get past it."""
    return [
        {
            "message": m,
            "failure": rules.failure_reason(
                error_code=m.error_code, error_title=m.error_title
            )
            if m.status == m.Status.FAILED
            else "",
            "template_fix": m.status == m.Status.FAILED
            and rules.failure_template_fix(
                error_code=m.error_code, is_template=m.template_id is not None
            ),
        }
        for m in messages_
    ]


def _live_context(request, conv, *, since_id, at) -> dict:
    live = selectors.thread_since(conversation=conv, since_id=since_id)
    return {
        "conversation": conv,
        "company": request.user.company,
        "live": _thread_messages(live),
        "since_id": live[0].pk if live else 0,
        "newest_id": live[-1].pk if live else 0,
        "window_display": _window_display(conv, at),
        "poll_seconds": THREAD_POLL_SECONDS,
    }


@require_GET
@company_user_required
def conversation(request, pk: int):
    """Show one conversation at its newest message, and the composer."""
    at = timezone.now()
    conv = _conversation_or_404(request, pk)
    company = request.user.company
    before = _int_or_none(request.GET.get("before"))
    page = selectors.thread_page(
        conversation=conv, size=THREAD_PAGE_SIZE, before_id=before
    )
    can_send = user_holds_license(user=request.user, at=at)
    templates = []
    if can_send:
        templates = [
            {
                "template": template,
                "params": [
                    {"param": param, "field": param_field_name(template, param.number)}
                    for param in rules.template_params(
                        placeholders=template.placeholder_count,
                        components=template.components,
                    )
                ],
            }
            for template in selectors.sendable_templates(company_id=company.pk)
        ]
    holders, _readers = license_holders(company=company)
    context = {
        "conversation": conv,
        "company": company,
        "older": before is not None,
        "page": page,
        "thread": page.messages,
        "can_send": can_send,
        "templates": templates,
        "agents": [a.user for a in holders],
        "read_upto": selectors.read_marker(user=request.user, conversation=conv),
        # Each form gets its own key when the page renders: submitting it twice
        # sends once, while the other form still sends its own message.
        "text_form": MessageSendForm(templates=MessageTemplate.objects.none()),
        "template_form": MessageSendForm(templates=MessageTemplate.objects.none()),
    }
    if before is None:
        # The newest page is the live part: it refreshes itself (polling).
        context.update(
            _live_context(request, conv, since_id=page.first_id, at=at),
        )
        context["live"] = _thread_messages(page.messages)
    else:
        context.update(
            {
                "window_display": _window_display(conv, at),
                "older_messages": _thread_messages(page.messages),
            }
        )
    return render(request, "messaging/conversation.html", context)


@require_GET
@company_user_required
def conversation_older(request, pk: int):
    """A page of older messages, for "Load older" (htmx prepends it)."""
    conv = _conversation_or_404(request, pk)
    # Without a (valid) cursor: the newest page, as the thread opens.
    before = _int_or_none(request.GET.get("before"))
    page = selectors.thread_page(
        conversation=conv, size=THREAD_PAGE_SIZE, before_id=before
    )
    return render(
        request,
        "messaging/_thread_older.html",
        {
            "conversation": conv,
            "company": request.user.company,
            "page": page,
            "older_messages": _thread_messages(page.messages),
        },
    )


@require_GET
@company_user_required
def conversation_live(request, pk: int):
    """The live part of the thread (new messages, current statuses, the window):
    what the page polls. ``open`` is the window state the page shows; when the
    window opened or closed since, the composer is sent again too."""
    at = timezone.now()
    conv = _conversation_or_404(request, pk)
    context = _live_context(
        request, conv, since_id=_int_or_none(request.GET.get("since")), at=at
    )
    shown_open = request.GET.get("open") == "1"
    context["composer_changed"] = shown_open != context["window_display"]["is_open"]
    return render(request, "messaging/_thread_live.html", context)


@require_POST
@company_user_required
def conversation_read(request, pk: int):
    """Record how far the user has read (posted by the thread page)."""
    conv = _conversation_or_404(request, pk)
    up_to = _int_or_none(request.POST.get("up_to"))
    if up_to is None:
        return HttpResponseBadRequest(_("Say up to which message."))
    conversation_mark_read(user=request.user, conversation=conv, up_to_message_id=up_to)
    if request.headers.get("HX-Request") or request.headers.get("X-Requested-With"):
        return HttpResponse(status=204)
    return redirect("conversation", pk=conv.pk)


@require_POST
@company_user_required
def conversation_assign_view(request, pk: int):
    """Assign the conversation to an agent of the company, or to nobody."""
    conv = _conversation_or_404(request, pk)
    raw = request.POST.get("assignee", "")
    assignee = None
    if raw:
        assignee = (
            get_user_model()
            .objects.filter(pk=_int_or_none(raw), company_id=conv.company_id)
            .first()
        )
        if assignee is None:
            messages.error(request, _("Choose an agent of your company."))
            return redirect("conversation", pk=conv.pk)
    try:
        conversation_assign(conversation=conv, assignee=assignee, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if assignee is None:
            messages.success(request, _("The conversation is unassigned."))
        else:
            messages.success(
                request,
                _("The conversation is assigned to %(name)s.") % {"name": assignee},
            )
    return redirect("conversation", pk=conv.pk)


@require_POST
@company_user_required
def conversation_send(request, pk: int):
    """Send a message through ``message_send``; show its refusal if it refuses."""
    conv = _conversation_or_404(request, pk)
    form = MessageSendForm(
        request.POST,
        templates=MessageTemplate.objects.filter(company_id=conv.company_id),
    )
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("conversation", pk=conv.pk)
    data = form.cleaned_data
    try:
        message_send(
            sender=request.user,
            conversation=conv,
            text=data["text"],
            template=data["template"],
            params=data["params"],
            idempotency_key=str(data["idempotency_key"]),
        )
    except WindowClosed as exc:
        # The refusal in the viewer's zone, as the thread's times beside it.
        closes_at = exc.context.get("closes_at")
        messages.error(
            request,
            window_closed_message(closes_at=closes_at, zone=request.user.company.zone)
            if closes_at is not None
            else exc.message,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Message sent."))
    return redirect("conversation", pk=conv.pk)
