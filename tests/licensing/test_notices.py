"""The weekly idle license notice: the beat task, recording it once per company
and week, emailing it once after commit, and Customer Success viewing it."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from licensing.models import IdleLicenseNotice
from licensing.services import (
    idle_license_notice_email,
    idle_license_notice_record,
    license_price_set,
)
from licensing.tasks import idle_license_notices_task
from tests.factories import CompanyAdminFactory
from tests.licensing.helpers import DAY, T, company_with, send

pytestmark = pytest.mark.django_db

# --- the weekly notice ---------------------------------------------------------

MONDAY_7 = datetime(2026, 3, 16, 7, 0, tzinfo=UTC)


def test_the_beat_runs_the_notice_on_mondays_at_7_utc():
    entry = settings.CELERY_BEAT_SCHEDULE["email-idle-licenses"]
    assert entry["task"] == "licensing.tasks.idle_license_notices_task"
    schedule = entry["schedule"]
    assert schedule.day_of_week == {1}
    assert (schedule.hour, schedule.minute) == ({7}, {0})


def test_weekly_task_emails_each_admin_once_per_week(
    mailoutbox, django_capture_on_commit_callbacks
):
    # given a company with one idle license out of two, at 15 EUR, and two admins
    company, (ana, bea) = company_with(users=2, name="Acme")
    with time_machine.travel(T - 60 * DAY, tick=False):
        license_price_set(
            company=company, monthly_amount="15", currency="EUR", actor=None
        )
    admins = [CompanyAdminFactory(company=company, language="en") for _ in range(2)]
    CompanyAdminFactory(company=company, is_active=False)
    busy, (dan,) = company_with()
    CompanyAdminFactory(company=busy)
    send(ana, at=MONDAY_7 - DAY)
    send(dan, at=MONDAY_7 - DAY)
    # when the beat task runs on Monday, and again an hour later
    for at in (MONDAY_7, MONDAY_7 + timedelta(hours=1)):
        with (
            time_machine.travel(at, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert idle_license_notices_task.delay().get() == 1
    # then one email, to the active admins of the company with an idle license
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert sorted(email.to) == sorted(a.email for a in admins)
    assert email.subject == "Acme: 1 unused WhatsApp license"
    assert bea.email in email.body and ana.email not in email.body
    assert "no message sent yet" in email.body
    assert "would save €15.00 per month" in email.body
    notice = IdleLicenseNotice.objects.get()
    assert (notice.company, notice.week, notice.idle_count) == (
        company,
        date(2026, 3, 16),
        1,
    )
    assert notice.monthly_saving == Decimal("15") and notice.emailed_at == MONDAY_7
    # and the next Monday it is sent again
    with (
        time_machine.travel(MONDAY_7 + 7 * DAY, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        idle_license_notices_task.delay().get()
    assert len(mailoutbox) == 2
    assert IdleLicenseNotice.objects.count() == 2


def test_the_email_is_sent_only_after_commit(
    mailoutbox, django_capture_on_commit_callbacks
):
    company, _ = company_with()
    CompanyAdminFactory(company=company, language="en")
    with (
        django_capture_on_commit_callbacks() as callbacks,
        time_machine.travel(MONDAY_7, tick=False),
    ):
        idle_license_notice_record(company=company, at=MONDAY_7)
    assert mailoutbox == [] and len(callbacks) == 1


def test_a_recorded_notice_is_emailed_once(mailoutbox):
    company, _ = company_with()
    CompanyAdminFactory(company=company, language="en")
    with time_machine.travel(MONDAY_7, tick=False):
        notice = idle_license_notice_record(company=company, at=MONDAY_7)
        idle_license_notice_email(notice_id=notice.pk)
        idle_license_notice_email(notice_id=notice.pk)
    assert len(mailoutbox) == 1


def test_no_notice_without_idle_licenses_or_admins(mailoutbox):
    without_admin, _ = company_with()
    active, (ana,) = company_with()
    CompanyAdminFactory(company=active)
    send(ana, at=MONDAY_7 - DAY)
    for company in (without_admin, active):
        assert idle_license_notice_record(company=company, at=MONDAY_7) is None
    assert not IdleLicenseNotice.objects.exists()


def test_one_notice_per_company_and_week_in_the_database():
    company, _ = company_with()
    IdleLicenseNotice.objects.create(
        company=company, week=date(2026, 3, 16), idle_count=1, currency="EUR"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        IdleLicenseNotice.objects.create(
            company=company, week=date(2026, 3, 16), idle_count=2, currency="EUR"
        )


def test_the_email_is_plain_text(mailoutbox):
    company, _ = company_with(name="Smith & Sons")
    CompanyAdminFactory(company=company, language="en")
    with time_machine.travel(MONDAY_7, tick=False):
        notice = idle_license_notice_record(company=company, at=MONDAY_7)
        idle_license_notice_email(notice_id=notice.pk)
    [email] = mailoutbox
    assert email.subject == "Smith & Sons: 1 unused WhatsApp license"
    assert "Smith & Sons have" not in email.body
    assert "1 WhatsApp license of Smith & Sons has not been used" in email.body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_weekly_runs_at_once_email_once(mailoutbox):
    import threading

    from django.db import connection

    # given a company with an idle license and its admin
    company, _ = company_with()
    CompanyAdminFactory(company=company, language="en")
    barrier = threading.Barrier(4)

    def run():
        try:
            barrier.wait()
            idle_license_notice_record(company=company, at=MONDAY_7)
        finally:
            connection.close()

    # when four workers record this week's notice at the same time
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then one notice is recorded and one email sent (after its commit)
    assert IdleLicenseNotice.objects.filter(company=company).count() == 1
    assert len(mailoutbox) == 1


# --- Customer Success in the admin --------------------------------------------


def test_cs_sees_the_weekly_notices(cs_client, mailoutbox):
    company, _ = company_with()
    CompanyAdminFactory(company=company, language="en")
    with time_machine.travel(T, tick=False):
        notice = idle_license_notice_record(company=company, at=T)
    response = cs_client.get(reverse("admin:licensing_idlelicensenotice_changelist"))
    assert response.status_code == 200
    assert company.name in response.content.decode()
    detail = cs_client.get(
        reverse("admin:licensing_idlelicensenotice_change", args=[notice.pk])
    )
    assert detail.status_code == 200
    assert notice.licenses[0]["email"] in detail.content.decode()


def test_each_language_gets_its_own_email_dated_in_the_company_zone(
    mailoutbox, django_capture_on_commit_callbacks
):
    # given a company in Mexico City with an idle license last used late on a
    # Sunday there (already Monday in UTC), an admin in English, one in Spanish
    company, (ana,) = company_with(users=1, name="Globex")
    company.billing_timezone = "America/Mexico_City"
    company.country = "MX"
    company.save()
    english = CompanyAdminFactory(company=company, language="en")
    spanish = CompanyAdminFactory(company=company)  # no choice: Mexico's Spanish
    last = datetime(2026, 2, 2, 5, 30, tzinfo=UTC)  # Feb 1, 23:30 in Mexico City
    send(ana, at=last)
    with (
        time_machine.travel(MONDAY_7, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        idle_license_notices_task.delay().get()
    # then one email per language, each to its readers
    by_to = {tuple(m.to): m for m in mailoutbox}
    assert set(by_to) == {(english.email,), (spanish.email,)}
    assert by_to[(english.email,)].subject == "Globex: 1 unused WhatsApp license"
    assert by_to[(spanish.email,)].subject == "Globex: 1 licencia de WhatsApp sin uso"
    # and the last send is the company's day, not UTC's
    assert "1 Feb 2026" in by_to[(english.email,)].body
    assert "2 Feb 2026" not in by_to[(english.email,)].body
