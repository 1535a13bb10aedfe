"""The agent inbox: conversation list, thread and composer.

Every company user reads every conversation of the company (A4). Sending goes
through ``services.message_send``, which decides whether it is allowed; these
views only show its answer.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from accounts.decorators import company_user_required
from accounts.exceptions import DomainError
from licensing.selectors import user_holds_license

from . import selectors
from .filters import ConversationFilter, conversations_with_window
from .forms import MessageSendForm, param_field_name
from .models import Conversation, MessageTemplate
from .services import message_send
from .tables import NO_MATCH, ConversationTable

INBOX_PAGE_SIZE = 25
THREAD_PAGE_SIZE = 50


def _conversation_or_404(request, pk: int) -> Conversation:
    try:
        return selectors.conversation_get(user=request.user, pk=pk)
    except Conversation.DoesNotExist as exc:
        # Another company's conversation looks exactly like a missing one.
        raise Http404(_("No such conversation.")) from exc


@require_GET
@company_user_required
def inbox(request):
    """List the company's conversations, newest first, with filters."""
    at = timezone.now()
    queryset = conversations_with_window(
        selectors.conversation_list(user=request.user), at=at
    )
    filterset = ConversationFilter(
        request.GET or None, queryset=queryset, request=request
    )
    table = ConversationTable(filterset.qs)
    RequestConfig(request, paginate={"per_page": INBOX_PAGE_SIZE}).configure(table)
    if filterset.is_filtering:
        table.empty_text = NO_MATCH
    return render(
        request,
        "messaging/inbox.html",
        {
            "table": table,
            "filter": filterset,
            "company": request.user.company,
            "is_empty": not filterset.is_filtering and table.paginator.count == 0,
        },
    )


def _window_display(state: selectors.WindowState, at) -> dict:
    """Return what the thread shows about the window: its state and the time left."""
    if state.last_inbound_at is None:
        return {"state": "never"}
    if state.is_open:
        minutes = int((state.closes_at - at).total_seconds() // 60)
        return {"state": "open", "hours": minutes // 60, "minutes": minutes % 60}
    return {"state": "closed", "closed_at": state.closes_at}


@require_GET
@company_user_required
def conversation(request, pk: int):
    """Show one conversation, oldest message first, and the composer."""
    at = timezone.now()
    conv = _conversation_or_404(request, pk)
    company = request.user.company
    state = selectors.window_state(conversation=conv, at=at)
    # Newest page first; each page reads oldest to newest, like a chat.
    paginator = Paginator(
        selectors.message_list(conversation=conv).reverse(), THREAD_PAGE_SIZE
    )
    page = paginator.get_page(request.GET.get("page"))
    can_send = user_holds_license(user=request.user, at=at)
    templates = []
    if can_send:
        templates = [
            {
                "template": template,
                "params": [
                    (number, param_field_name(template, number))
                    for number in range(1, template.placeholder_count + 1)
                ],
            }
            for template in selectors.sendable_templates(company_id=company.pk)
        ]
    return render(
        request,
        "messaging/conversation.html",
        {
            "conversation": conv,
            "company": company,
            "page": page,
            "thread": list(page.object_list)[::-1],
            "window": state,
            "window_display": _window_display(state, at),
            "can_send": can_send,
            "templates": templates,
            # Each form gets its own key when the page renders: submitting it twice
            # sends once, while the other form still sends its own message.
            "text_form": MessageSendForm(templates=MessageTemplate.objects.none()),
            "template_form": MessageSendForm(templates=MessageTemplate.objects.none()),
        },
    )


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
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Message sent."))
    return redirect("conversation", pk=conv.pk)
