"""The inbox's own writes: who answers a conversation (assignment, with its audit
trail) and how far each user has read it (read markers). Both come from POSTs."""

from datetime import datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from licensing.selectors import user_holds_license

from .. import rules
from ..exceptions import AssignmentRefused
from ..locks import conversation_lock
from ..models import Conversation, ConversationAssignment, ConversationRead, Message

_REFUSALS = {
    rules.AssignmentRefusal.OTHER_COMPANY: lambda: _(
        "Conversations can only be assigned to users of the same company."
    ),
    rules.AssignmentRefusal.INACTIVE: lambda: _(
        "This user is deactivated and cannot be assigned conversations."
    ),
    rules.AssignmentRefusal.NOT_LICENSED: lambda: _(
        "This user has no WhatsApp license, so they could not answer the "
        "conversation. Assign a licensed agent."
    ),
}


def conversation_assign(
    *,
    conversation: Conversation,
    assignee: User | None,
    by: User,
    at: datetime | None = None,
) -> Conversation:
    """Assign ``conversation`` to ``assignee`` (None: unassign), as ``by``.

    The assignee must pass ``rules.assignment_refusal``; ``by`` must be a user of
    the conversation's company. Every change is kept in ConversationAssignment;
    assigning to the current assignee changes nothing and records nothing.
    """
    at = at or timezone.now()
    if by.company_id != conversation.company_id:
        raise AssignmentRefused(
            _("Only users of the company can assign its conversations.")
        )
    if assignee is not None:
        refusal = rules.assignment_refusal(
            same_company=assignee.company_id == conversation.company_id,
            assignee_active=assignee.is_active,
            assignee_licensed=user_holds_license(user=assignee, at=at),
        )
        if refusal is not None:
            raise AssignmentRefused(_REFUSALS[refusal](), refusal=refusal)
    with transaction.atomic():
        locked = conversation_lock(conversation.pk)
        new_id = assignee.pk if assignee is not None else None
        if locked.assigned_to_id != new_id:
            locked.assigned_to = assignee
            locked.save(update_fields=["assigned_to"])
            ConversationAssignment.objects.create(
                conversation=locked, assigned_to=assignee, assigned_by=by, created_at=at
            )
    conversation.assigned_to = assignee
    return conversation


def conversation_mark_read(
    *, user: User, conversation: Conversation, up_to_message_id: int
) -> int:
    """Record that ``user`` has seen ``conversation`` up to a message; return the
    marker. The marker only moves forward and never past the newest message
    of the conversation (a made-up id cannot hide messages still to come)."""
    if user.company_id != conversation.company_id:
        raise AssignmentRefused(_("This conversation belongs to another company."))
    newest = (
        Message.objects.filter(conversation=conversation).aggregate(m=Max("id"))["m"]
        or 0
    )
    up_to = max(0, min(int(up_to_message_id), newest))
    with transaction.atomic():
        marker, created = ConversationRead.objects.get_or_create(
            user=user,
            conversation=conversation,
            defaults={"last_read_message_id": up_to, "read_at": timezone.now()},
        )
        if not created and up_to > marker.last_read_message_id:
            # A conditional UPDATE: two tabs posting at once never move it back.
            ConversationRead.objects.filter(
                pk=marker.pk, last_read_message_id__lt=up_to
            ).update(last_read_message_id=up_to, read_at=timezone.now())
            marker.last_read_message_id = up_to
    return marker.last_read_message_id
