"""Contract tests for feature F6, license insight: sends per licensed user, idle
licenses and their saving, the weekly idle notice, and license requests decided
within the seat limit (A3) by the company's admins only."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from licensing.exceptions import LicenseRequestRefused, SeatLimitExceeded
from licensing.models import IdleLicenseNotice, LicenseAssignment, LicenseRequest
from licensing.rules import license_is_idle
from licensing.selectors import license_insight, license_summary
from licensing.services import (
    license_assign,
    license_count_set,
    license_price_set,
    license_request_approve,
    license_request_create,
)
from licensing.tasks import idle_license_notices_task
from messaging.services import outbound_message_record
from messaging.transports import SandboxTransport
from tests.factories import (
    BusinessNumberFactory,
    CompanyAdminFactory,
    CompanyFactory,
    ConversationFactory,
    MessageTemplateFactory,
    UserFactory,
    licensed_user,
)

pytestmark = pytest.mark.django_db

ASSIGNED = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
MONDAY_7 = datetime(2026, 3, 16, 7, 0, tzinfo=UTC)


def _company(*, users: int, price: str | None = None, **fields):
    with time_machine.travel(ASSIGNED, tick=False):
        company = CompanyFactory(**fields)
        if price is not None:
            license_price_set(
                company=company,
                monthly_amount=price,
                currency=company.billing_currency,
                actor=None,
            )
        holders = [licensed_user(company) for _ in range(users)]
    return company, holders


def _send(user, at, *, template=False):
    conversation = ConversationFactory(
        business_number=BusinessNumberFactory(company=user.company)
    )
    outbound_message_record(
        conversation=conversation,
        sender=user,
        at=at,
        transport=SandboxTransport(),
        text="" if template else "Hi",
        template=MessageTemplateFactory(company=user.company) if template else None,
    )


def _admin_client(company) -> Client:
    client = Client()
    client.force_login(CompanyAdminFactory(company=company))
    return client


def _holder(company, user):
    return next(
        a
        for a in license_insight(company=company, at=datetime.now(tz=UTC)).holders
        if a.user_id == user.pk
    )


def test_f6_license_insight_idle_at_exactly_30_days():
    # given a license held since ASSIGNED whose user last sent at S
    company, (ana,) = _company(users=1)
    sent = ASSIGNED + timedelta(days=2)
    _send(ana, sent)
    # then it is not idle one second before 30 days, and idle at exactly 30 days
    with time_machine.travel(sent + timedelta(days=30, seconds=-1), tick=False):
        assert not _holder(company, ana).is_idle
    with time_machine.travel(sent + timedelta(days=30), tick=False):
        assert _holder(company, ana).is_idle
        page = _admin_client(company).get(reverse("licensing:licenses"))
        assert "1 license idle for 30 days" in page.content.decode()
    # and the rule says the same
    assert license_is_idle(
        assigned_at=ASSIGNED, last_sent_at=sent, at=sent + timedelta(days=30)
    )


def test_f6_license_insight_new_license_is_not_idle_before_30_days():
    company, (ana,) = _company(users=1)
    with time_machine.travel(ASSIGNED + timedelta(days=30, seconds=-1), tick=False):
        assert not _holder(company, ana).is_idle
    with time_machine.travel(ASSIGNED + timedelta(days=30), tick=False):
        assert _holder(company, ana).is_idle


def test_f6_license_insight_counts_per_user_per_month_in_the_company_zone():
    # given a company billed in Tokyo (UTC+9): March starts at 15:00 UTC on 28 Feb
    company, (ana, bea) = _company(users=2, billing_timezone="Asia/Tokyo")
    march = datetime(2026, 2, 28, 15, 0, tzinfo=UTC)
    _send(ana, march - timedelta(seconds=1), template=True)  # February in Tokyo
    _send(ana, march, template=True)
    _send(ana, march + timedelta(days=3))
    _send(bea, march + timedelta(days=4), template=True)
    # when the admin opens /licenses/ in March
    with time_machine.travel(march + timedelta(days=10), tick=False):
        response = _admin_client(company).get(reverse("licensing:licenses"))
    rows = {a.user: a for a in response.context["holders"]}
    # then each user's March sends are counted, templates also on their own
    assert (rows[ana].templates_this_month, rows[ana].messages_this_month) == (1, 2)
    assert (rows[bea].templates_this_month, rows[bea].messages_this_month) == (1, 1)
    assert rows[ana].last_sent_at == march + timedelta(days=3)


def test_f6_license_insight_saving_is_price_times_idle_count():
    # given 3 licenses at 19.90 EUR, two of them idle
    company, (ana, bea, cai) = _company(users=3, price="19.90")
    at = ASSIGNED + timedelta(days=45)
    _send(cai, at - timedelta(days=1))
    with time_machine.travel(at, tick=False):
        insight = license_insight(company=company, at=at)
        page = _admin_client(company).get(reverse("licensing:licenses"))
    # then revoking them saves 2 x 19.90 a month, shown with the money filter
    assert insight.idle_count == 2
    assert insight.idle_saving == Decimal("39.80")
    assert "€39.80</strong> per month" in page.content.decode()


def test_f6_license_insight_request_approved_within_the_seat_limit():
    company, _ = _company(users=0)
    license_count_set(company=company, quantity=1, actor=None)
    reader = UserFactory(company=company)
    admin = CompanyAdminFactory(company=company)
    request = license_request_create(user=reader)
    client = Client()
    client.force_login(admin)
    response = client.post(
        reverse("licensing:license-request-approve", kwargs={"pk": request.pk})
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.decided_by) == ("approved", admin)
    assert LicenseAssignment.objects.filter(
        user=reader, revoked_at=None, assigned_by=admin
    ).exists()
    assert license_summary(company=company).free == 0


def test_f6_license_insight_request_refused_beyond_the_seat_limit_nothing_changed():
    # given a company whose only license is taken
    company, _ = _company(users=1)
    reader = UserFactory(company=company)
    admin = CompanyAdminFactory(company=company)
    request = license_request_create(user=reader)
    before = list(LicenseAssignment.objects.values_list("pk", "user", "revoked_at"))
    # when the admin approves
    with pytest.raises(SeatLimitExceeded):
        license_request_approve(request=request, actor=admin)
    response = _admin_client(company).post(
        reverse("licensing:license-request-approve", kwargs={"pk": request.pk}),
        follow=True,
    )
    # then the clear error is shown and nothing changed
    [message] = [str(m) for m in response.context["messages"]]
    assert "0 free licenses of 1; 1 was asked." in message
    request.refresh_from_db()
    assert (request.status, request.decided_at) == (LicenseRequest.Status.PENDING, None)
    assert (
        list(LicenseAssignment.objects.values_list("pk", "user", "revoked_at"))
        == before
    )


def test_f6_license_insight_one_pending_request_per_user():
    company, _ = _company(users=0)
    reader = UserFactory(company=company)
    license_request_create(user=reader)
    with pytest.raises(LicenseRequestRefused):
        license_request_create(user=reader)
    assert LicenseRequest.objects.filter(user=reader, status="pending").count() == 1


def test_f6_license_insight_tenant_isolation():
    # given company A's request and usage, and company B's admin
    a, (ana,) = _company(users=1)
    _send(ana, ASSIGNED + timedelta(days=1))
    request = license_request_create(user=UserFactory(company=a, full_name="Zed A"))
    b, _ = _company(users=1)
    client_b = _admin_client(b)
    # then B cannot approve or decline A's request, nor see A's people
    for name in ("license-request-approve", "license-request-decline"):
        url = reverse(f"licensing:{name}", kwargs={"pk": request.pk})
        assert client_b.post(url).status_code == 404
    page = client_b.get(reverse("licensing:licenses")).content.decode()
    assert ana.email not in page and "Zed A" not in page
    request.refresh_from_db()
    assert request.is_pending


def test_f6_license_insight_agents_get_403():
    company, (agent,) = _company(users=1)
    request = license_request_create(user=UserFactory(company=company))
    client = Client()
    client.force_login(agent)
    assert client.get(reverse("licensing:licenses")).status_code == 403
    for name in ("license-request-approve", "license-request-decline"):
        url = reverse(f"licensing:{name}", kwargs={"pk": request.pk})
        assert client.post(url).status_code == 403
    request.refresh_from_db()
    assert request.is_pending


def test_f6_license_insight_weekly_email_once_per_week(
    mailoutbox, django_capture_on_commit_callbacks
):
    # given a company with two idle licenses at 10 EUR and one admin
    company, (ana, bea) = _company(users=2, price="10")
    admin = CompanyAdminFactory(company=company, language="en")
    # when the Monday beat runs twice in the same ISO week, then the next Monday
    for at in (MONDAY_7, MONDAY_7 + timedelta(days=3), MONDAY_7 + timedelta(days=7)):
        with (
            time_machine.travel(at, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            idle_license_notices_task.delay()
    # then one email per week, listing both licenses and the saving
    assert len(mailoutbox) == 2
    first = mailoutbox[0]
    assert first.to == [admin.email]
    assert ana.email in first.body and bea.email in first.body
    assert "would save €20.00 per month" in first.body
    assert list(
        IdleLicenseNotice.objects.order_by("week").values_list("week", flat=True)
    ) == [date(2026, 3, 16), date(2026, 3, 23)]


def test_f6_license_insight_approving_counts_against_the_seat_limit_like_any_assignment():
    # given one free license and two requests approved one after the other
    company, _ = _company(users=0)
    license_count_set(company=company, quantity=1, actor=None)
    admin = CompanyAdminFactory(company=company)
    first, second = (
        license_request_create(user=UserFactory(company=company)) for _ in range(2)
    )
    license_request_approve(request=first, actor=admin)
    with pytest.raises(SeatLimitExceeded):
        license_request_approve(request=second, actor=admin)
    # and a direct assignment is refused the same way
    with pytest.raises(SeatLimitExceeded):
        license_assign(company=company, users=[second.user], actor=None)
    assert license_summary(company=company).assigned == 1
