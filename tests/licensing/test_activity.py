"""The license insight asks messaging how license holders send through
licensing.activity, so licensing imports nothing from messaging (README "Layering")."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured

from licensing import activity
from licensing.selectors import idle_assignments, license_insight
from messaging.activity import MessageSendActivity
from messaging.services import outbound_message_record
from messaging.transports import SandboxTransport
from tests.factories import (
    BusinessNumberFactory,
    CompanyFactory,
    ConversationFactory,
    licensed_user,
)

pytestmark = pytest.mark.django_db

T = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_messaging_registers_the_send_activity_when_ready():
    assert isinstance(activity.provider(), MessageSendActivity)


def test_license_insight_counts_the_sends_messaging_reports():
    with time_machine.travel(T - timedelta(days=60), tick=False):
        company = CompanyFactory(billing_timezone="Europe/Madrid")
        user = licensed_user(company)
    conversation = ConversationFactory(
        business_number=BusinessNumberFactory(company=company)
    )
    outbound_message_record(
        conversation=conversation,
        sender=user,
        at=T - timedelta(days=1),
        transport=SandboxTransport(),
        text="Hello",
    )
    (holder,) = license_insight(company=company, at=T).holders
    assert holder.messages_this_month == 1
    assert holder.templates_this_month == 0
    assert holder.last_sent_at == T - timedelta(days=1)
    assert holder.is_idle is False
    assert not idle_assignments(at=T, company=company).exists()


def test_without_a_send_activity_the_insight_refuses_instead_of_calling_all_idle(
    monkeypatch,
):
    company = CompanyFactory()
    licensed_user(company)
    monkeypatch.setattr(activity, "_provider", None)
    with pytest.raises(ImproperlyConfigured, match="messaging registers it"):
        license_insight(company=company, at=T)
    with pytest.raises(ImproperlyConfigured):
        idle_assignments(at=T)
