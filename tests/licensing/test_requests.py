"""License requests: made by users without a license, decided by company admins
(on /licenses/) or Customer Success (admin actions), always through the services."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from licensing.exceptions import LicenseRequestRefused, SeatLimitExceeded
from licensing.models import LicenseAssignment, LicenseRequest
from licensing.selectors import license_summary, user_holds_license
from licensing.services import (
    license_assign,
    license_count_set,
    license_request_approve,
    license_request_create,
    license_request_decline,
)
from tests.factories import (
    CompanyAdminFactory,
    CompanyFactory,
    ConversationFactory,
    StaffUserFactory,
    UserFactory,
    licensed_user,
)

pytestmark = pytest.mark.django_db

T = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def company():
    with time_machine.travel(T - timedelta(days=30), tick=False):
        company = CompanyFactory(billing_timezone="Europe/Madrid")
        license_count_set(company=company, quantity=1, actor=None)
    return company


@pytest.fixture
def admin(company):
    return CompanyAdminFactory(company=company)


@pytest.fixture
def reader(company):
    return UserFactory(company=company, full_name="Rita Reader")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- services --------------------------------------------------------------------


def test_create_records_a_pending_request(reader):
    with time_machine.travel(T, tick=False):
        request = license_request_create(user=reader, note="  I answer sales  ")
    assert (request.company, request.user, request.status) == (
        reader.company,
        reader,
        LicenseRequest.Status.PENDING,
    )
    assert (request.note, request.created_at, request.decided_at) == (
        "I answer sales",
        T,
        None,
    )


def test_a_second_pending_request_is_refused(reader):
    license_request_create(user=reader)
    with pytest.raises(LicenseRequestRefused, match="already have a pending"):
        license_request_create(user=reader)
    assert LicenseRequest.objects.count() == 1


def test_after_a_decision_the_user_may_ask_again(reader, admin):
    first = license_request_create(user=reader)
    license_request_decline(request=first, actor=admin)
    second = license_request_create(user=reader, note="please")
    assert second.is_pending and second.pk != first.pk


def test_the_database_allows_one_pending_request_per_user(reader):
    LicenseRequest.objects.create(company=reader.company, user=reader)
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenseRequest.objects.create(company=reader.company, user=reader)


def test_the_database_requires_decided_at_once_decided(reader):
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenseRequest.objects.create(
            company=reader.company, user=reader, status="approved"
        )


@pytest.mark.parametrize(
    "who", ["licensed", "staff", "inactive"], ids=["licensed", "staff", "inactive"]
)
def test_who_cannot_request(company, who):
    user = {
        "licensed": lambda: licensed_user(company),
        "staff": StaffUserFactory,
        "inactive": lambda: UserFactory(company=company, is_active=False),
    }[who]()
    with pytest.raises(LicenseRequestRefused):
        license_request_create(user=user)
    assert not LicenseRequest.objects.exists()


def test_approve_assigns_a_license_within_the_seat_limit(reader, admin):
    request = license_request_create(user=reader)
    with time_machine.travel(T, tick=False):
        approved = license_request_approve(request=request, actor=admin)
    assert (approved.status, approved.decided_by, approved.decided_at) == (
        LicenseRequest.Status.APPROVED,
        admin,
        T,
    )
    assignment = LicenseAssignment.objects.get(user=reader)
    assert (assignment.assigned_by, assignment.assigned_at) == (admin, T)


def test_approve_beyond_the_seat_limit_is_refused_and_nothing_changes(
    company, reader, admin
):
    license_assign(company=company, users=[UserFactory(company=company)], actor=None)
    request = license_request_create(user=reader)
    with pytest.raises(SeatLimitExceeded, match="0 free license"):
        license_request_approve(request=request, actor=admin)
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.decided_at) == (
        LicenseRequest.Status.PENDING,
        None,
        None,
    )
    assert not user_holds_license(user=reader, at=datetime.now(tz=UTC))
    assert license_summary(company=company).assigned == 1


def test_decline_keeps_the_user_read_only(reader, admin):
    request = license_request_create(user=reader)
    declined = license_request_decline(request=request, actor=admin)
    assert (declined.status, declined.decided_by) == ("declined", admin)
    assert not LicenseAssignment.objects.filter(user=reader).exists()


def test_a_decided_request_cannot_be_decided_again(reader, admin):
    request = license_request_create(user=reader)
    license_request_decline(request=request, actor=admin)
    with pytest.raises(LicenseRequestRefused, match="already declined"):
        license_request_approve(request=request, actor=admin)
    assert not LicenseAssignment.objects.filter(user=reader).exists()


def test_an_approved_user_who_got_a_license_meanwhile_is_not_counted_twice(
    company, reader, admin
):
    request = license_request_create(user=reader)
    license_assign(company=company, users=[reader], actor=None)
    license_request_approve(request=request, actor=admin)
    assert LicenseAssignment.objects.filter(user=reader).count() == 1


@pytest.mark.parametrize("who", ["agent", "foreign admin"])
def test_only_the_company_admins_or_staff_decide(company, reader, who):
    actor = (
        UserFactory(company=company)
        if who == "agent"
        else CompanyAdminFactory(company=CompanyFactory())
    )
    request = license_request_create(user=reader)
    with pytest.raises(LicenseRequestRefused, match="Only an admin"):
        license_request_approve(request=request, actor=actor)
    with pytest.raises(LicenseRequestRefused):
        license_request_decline(request=request, actor=actor)
    request.refresh_from_db()
    assert request.is_pending


def test_customer_success_may_decide(reader, cs_user):
    request = license_request_create(user=reader)
    assert license_request_approve(request=request, actor=cs_user).status == (
        "approved"
    )


# --- the request page and the conversation notice ------------------------------


def test_unlicensed_users_see_a_request_link_on_the_conversation(company, reader):
    conversation = ConversationFactory(business_number__company=company)
    url = reverse("conversation", kwargs={"pk": conversation.pk})
    page = client_for(reader).get(url).content.decode()
    assert 'id="license-request-link"' in page
    assert f'href="/licenses/request/?next={url}"' in page
    page = client_for(licensed_user(company)).get(url).content.decode()
    assert 'id="license-request-link"' not in page


def test_request_from_the_conversation_returns_to_it(company, reader):
    conversation = ConversationFactory(business_number__company=company)
    back = reverse("conversation", kwargs={"pk": conversation.pk})
    client = client_for(reader)
    page = client.get(reverse("licensing:license-request"), {"next": back})
    assert f'name="next" value="{back}"' in page.content.decode()
    response = client.post(
        reverse("licensing:license-request"),
        {"note": "I handle returns", "next": back},
        follow=True,
    )
    assert response.redirect_chain == [(back, 302)]
    assert "License requested" in messages_of(response)[0]
    assert LicenseRequest.objects.get(user=reader).note == "I handle returns"


def test_request_ignores_an_outside_next(reader):
    response = client_for(reader).post(
        reverse("licensing:license-request"), {"next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response.url == reverse("licensing:license-request")


def test_requester_sees_the_status_of_their_requests(company, reader, admin):
    client = client_for(reader)
    client.post(reverse("licensing:license-request"), {"note": ""})
    page = client.get(reverse("licensing:license-request")).content.decode()
    assert 'id="request-pending"' in page and 'id="license-request-form"' not in page
    license_request_approve(request=LicenseRequest.objects.get(), actor=admin)
    response = client.get(reverse("licensing:license-request"))
    page = response.content.decode()
    assert "You hold a WhatsApp license" in page
    assert '<td data-testid="request-status">Approved</td>' in page
    assert admin.get_full_name() in page


def test_requesting_twice_from_the_page_shows_the_refusal(reader):
    client = client_for(reader)
    client.post(reverse("licensing:license-request"))
    response = client.post(reverse("licensing:license-request"), follow=True)
    assert "already have a pending" in messages_of(response)[-1]
    assert LicenseRequest.objects.count() == 1


def test_request_page_needs_a_login(client):
    response = client.get(reverse("licensing:license-request"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_request_page_in_spanish(reader):
    page = (
        client_for(reader)
        .get(reverse("licensing:license-request"), headers={"accept-language": "es"})
        .content.decode()
    )
    assert "Solicitar una licencia" in page


# --- deciding on /licenses/ ----------------------------------------------------


def approve_url(request) -> str:
    return reverse("licensing:license-request-approve", kwargs={"pk": request.pk})


def decline_url(request) -> str:
    return reverse("licensing:license-request-decline", kwargs={"pk": request.pk})


def test_admin_sees_pending_requests_with_their_note(admin, reader):
    license_request_create(user=reader, note="Weekend shifts")
    page = client_for(admin).get(reverse("licensing:licenses")).content.decode()
    assert 'id="license-requests"' in page
    assert "Rita Reader" in page and "Weekend shifts" in page
    assert "1 is free" in page


def test_admin_approves_from_the_page(admin, reader):
    request = license_request_create(user=reader)
    response = client_for(admin).post(approve_url(request), follow=True)
    assert response.redirect_chain == [(reverse("licensing:licenses"), 302)]
    assert messages_of(response) == ["Rita Reader now holds a WhatsApp license."]
    assert LicenseAssignment.objects.filter(user=reader, assigned_by=admin).exists()
    assert 'id="license-requests"' not in response.content.decode()


def test_admin_approving_beyond_the_seat_limit_sees_the_error(company, admin, reader):
    license_assign(company=company, users=[UserFactory(company=company)], actor=None)
    request = license_request_create(user=reader)
    response = client_for(admin).post(approve_url(request), follow=True)
    [message] = messages_of(response)
    assert message.startswith(
        "Not approved for Rita Reader (the request stays pending)"
    )
    assert "0 free licenses of 1; 1 was asked." in message
    request.refresh_from_db()
    assert request.is_pending
    assert not LicenseAssignment.objects.filter(user=reader).exists()


def test_admin_declines_from_the_page(admin, reader):
    request = license_request_create(user=reader)
    response = client_for(admin).post(decline_url(request), follow=True)
    assert messages_of(response) == ["The license request of Rita Reader was declined."]
    request.refresh_from_db()
    assert request.status == "declined"


def test_agents_get_403_and_nothing_changes(company, reader):
    request = license_request_create(user=reader)
    agent = licensed_user(company)
    for url in (approve_url(request), decline_url(request)):
        assert client_for(agent).post(url).status_code == 403
    request.refresh_from_db()
    assert request.is_pending


def test_another_companys_request_is_404(reader):
    request = license_request_create(user=reader)
    foreign_admin = CompanyAdminFactory(company=CompanyFactory())
    client = client_for(foreign_admin)
    for url in (approve_url(request), decline_url(request)):
        assert client.post(url).status_code == 404
    assert (
        reader.full_name
        not in client.get(reverse("licensing:licenses")).content.decode()
    )
    request.refresh_from_db()
    assert request.is_pending


def test_deciding_needs_a_post_with_csrf(admin, reader):
    request = license_request_create(user=reader)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    assert client.get(approve_url(request)).status_code == 405
    assert client.post(approve_url(request)).status_code == 403  # no CSRF token
    request.refresh_from_db()
    assert request.is_pending


# --- Customer Success in the admin ---------------------------------------------


CHANGELIST = "admin:licensing_licenserequest_changelist"


def _action(client, action, requests):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [str(r.pk) for r in requests]},
        follow=True,
    )


def test_cs_sees_requests_and_approves_within_the_seat_limit(
    cs_client, cs_user, company, reader
):
    other = UserFactory(company=company)
    first = license_request_create(user=reader)
    second = license_request_create(user=other)
    response = cs_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 2
    # one free license for two requests: each is decided on its own
    response = _action(cs_client, "approve_requests", [first, second])
    text = messages_of(response)
    assert any("0 free licenses of 1; 1 was asked." in m for m in text)
    assert any("1 request(s) approved" in m for m in text)
    statuses = dict(LicenseRequest.objects.values_list("user", "status"))
    assert sorted(statuses.values()) == ["approved", "pending"]
    approved = LicenseRequest.objects.get(status="approved")
    assert approved.decided_by == cs_user
    assert license_summary(company=company).assigned == 1


def test_cs_declines(cs_client, reader):
    request = license_request_create(user=reader)
    _action(cs_client, "decline_requests", [request])
    request.refresh_from_db()
    assert request.status == "declined"


def test_cs_views_a_request_but_cannot_edit_or_delete_it(cs_client, reader):
    request = license_request_create(user=reader, note="hi")
    url = reverse("admin:licensing_licenserequest_change", args=[request.pk])
    response = cs_client.get(url)
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    cs_client.post(url, {"status": "approved", "note": "edited"})
    request.refresh_from_db()
    assert (request.status, request.note) == ("pending", "hi")
    delete = reverse("admin:licensing_licenserequest_delete", args=[request.pk])
    assert cs_client.post(delete, {"post": "yes"}).status_code == 403


# --- concurrency (PostgreSQL only) -----------------------------------------------


def _race(calls) -> list[str]:
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(call):
        try:
            barrier.wait()
            call()
            result = "ok"
        except (SeatLimitExceeded, LicenseRequestRefused) as exc:
            result = type(exc).__name__
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_requests_racing_for_the_last_license_only_one_is_approved():
    # given one free license and six pending requests approved at the same time
    company = CompanyFactory()
    license_count_set(company=company, quantity=1, actor=None)
    admin = CompanyAdminFactory(company=company)
    requests = [
        license_request_create(user=UserFactory(company=company)) for _ in range(6)
    ]
    # when
    outcomes = _race(
        [lambda r=r: license_request_approve(request=r, actor=admin) for r in requests]
    )
    # then one is approved, the others are refused and stay pending
    assert outcomes == ["SeatLimitExceeded"] * 5 + ["ok"]
    assert LicenseAssignment.objects.filter(company=company).count() == 1
    assert LicenseRequest.objects.filter(status="pending").count() == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_request_decided_twice_at_once_is_decided_once():
    company = CompanyFactory()
    license_count_set(company=company, quantity=5, actor=None)
    admin = CompanyAdminFactory(company=company)
    request = license_request_create(user=UserFactory(company=company))
    outcomes = _race(
        [lambda: license_request_approve(request=request, actor=admin)] * 3
        + [lambda: license_request_decline(request=request, actor=admin)] * 3
    )
    assert outcomes.count("ok") == 1
    assert outcomes.count("LicenseRequestRefused") == 5
    request.refresh_from_db()
    assigned = LicenseAssignment.objects.filter(user=request.user).count()
    assert (request.status, assigned) in {("approved", 1), ("declined", 0)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_user_requesting_twice_at_once_gets_one_pending_request():
    company = CompanyFactory()
    reader = UserFactory(company=company)
    outcomes = _race([lambda: license_request_create(user=reader)] * 6)
    assert outcomes == ["LicenseRequestRefused"] * 5 + ["ok"]
    assert LicenseRequest.objects.filter(user=reader).count() == 1
