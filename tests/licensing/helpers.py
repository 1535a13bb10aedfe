"""What the license insight and idle notice tests share: the instant T, a company
whose users got their license 60 days before it, and recording a send."""

from datetime import UTC, datetime, timedelta

import time_machine

from messaging.services import outbound_message_record
from messaging.transports import SandboxTransport
from tests.factories import (
    BusinessNumberFactory,
    CompanyFactory,
    ConversationFactory,
    MessageTemplateFactory,
    licensed_user,
)

# A Tuesday; licenses below are assigned 60 days before it unless a test says so.
T = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def company_with(*, users: int = 1, since: datetime = T - 60 * DAY, **company):
    """A company whose ``users`` licensed users got their license at ``since``."""
    with time_machine.travel(since, tick=False):
        company = CompanyFactory(**company)
        holders = [licensed_user(company) for _ in range(users)]
    return company, holders


def send(user, *, at: datetime, template: bool = False, conversation=None):
    """Record one outbound message of ``user`` at ``at`` (the real record path)."""
    if conversation is None:
        conversation = ConversationFactory(
            business_number=BusinessNumberFactory(company=user.company)
        )
    return outbound_message_record(
        conversation=conversation,
        sender=user,
        at=at,
        transport=SandboxTransport(),
        text="" if template else "Hello",
        template=MessageTemplateFactory(company=user.company) if template else None,
    )
