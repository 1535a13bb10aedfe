"""Contract tests for rules A1-A4 of shared/PRICING_RULES.md (A5 lives with billing)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction

from licensing.exceptions import (
    CountBelowAssigned,
    InvalidLicenseChange,
    SeatLimitExceeded,
    SenderNotLicensed,
)
from licensing.models import LicenseAssignment, LicenseCountChange
from licensing.selectors import (
    license_price_at,
    license_summary,
    user_holds_license,
)
from licensing.services import (
    license_assign,
    license_assign_company,
    license_assign_team,
    license_count_set,
    license_price_set,
    license_revoke,
    send_permission_check,
)
from tests.factories import CompanyFactory, StaffUserFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_a1_purchase_whole_number_history_with_actor_and_effective_time():
    # given
    company = CompanyFactory()
    cs = StaffUserFactory()
    # when
    with time_machine.travel(T0, tick=False):
        license_count_set(company=company, quantity=5, actor=cs)
        license_count_set(
            company=company, quantity=8, actor=cs, effective_at=T0 + timedelta(days=3)
        )
        license_count_set(
            company=company, quantity=0, actor=cs, effective_at=T0 + timedelta(days=30)
        )
    # then: every change is kept with who made it and when it takes effect
    history = list(
        LicenseCountChange.objects.filter(company=company).values_list(
            "quantity", "effective_at", "created_by", "created_at"
        )
    )
    assert history == [
        (5, T0, cs.pk, T0),
        (8, T0 + timedelta(days=3), cs.pk, T0),
        (0, T0 + timedelta(days=30), cs.pk, T0),
    ]
    assert license_summary(company=company, at=T0).purchased == 5
    assert license_summary(company=company, at=T0 + timedelta(days=3)).purchased == 8
    assert license_summary(company=company, at=T0 + timedelta(days=31)).purchased == 0


@pytest.mark.parametrize("bad", [-1, 2.5, "3", None, True])
def test_a1_purchase_refuses_anything_but_a_whole_number_of_zero_or_more(bad):
    company = CompanyFactory()
    with pytest.raises(InvalidLicenseChange):
        license_count_set(company=company, quantity=bad, actor=None)
    assert not LicenseCountChange.objects.filter(company=company).exists()


def test_a2_price_negotiated_per_company_else_price_list_default_effective_dated():
    # given
    cs = StaffUserFactory()
    negotiated = CompanyFactory(billing_currency="EUR")
    standard = CompanyFactory(billing_currency="EUR")
    with time_machine.travel(T0, tick=False):
        license_price_set(
            company=None, currency="EUR", monthly_amount="19.00", actor=cs
        )
        license_price_set(
            company=negotiated,
            currency="EUR",
            monthly_amount="15.50",
            actor=cs,
            effective_at=T0 + timedelta(days=5),
        )
        license_price_set(
            company=None,
            currency="EUR",
            monthly_amount="21.00",
            actor=cs,
            effective_at=T0 + timedelta(days=60),
        )
    # then
    assert license_price_at(company=standard, at=T0) == Decimal("19.00")
    assert license_price_at(company=standard, at=T0 + timedelta(days=61)) == Decimal(
        "21.00"
    )
    # the negotiated price starts on its date; before it the default applied
    assert license_price_at(company=negotiated, at=T0 + timedelta(days=1)) == Decimal(
        "19.00"
    )
    assert license_price_at(company=negotiated, at=T0 + timedelta(days=5)) == Decimal(
        "15.50"
    )
    assert license_price_at(company=negotiated, at=T0 + timedelta(days=61)) == Decimal(
        "15.50"
    )


def test_a2_price_in_another_currency_than_the_company_is_refused():
    company = CompanyFactory(billing_currency="EUR")
    with pytest.raises(InvalidLicenseChange, match="billed in EUR"):
        license_price_set(
            company=company, currency="USD", monthly_amount="10", actor=None
        )


def test_a3_assignment_single_team_and_company_recorded_with_actor_and_time():
    # given
    cs = StaffUserFactory()
    company = CompanyFactory()
    single = UserFactory(company=company)
    team = TeamFactory(
        company=company, members=UserFactory.create_batch(3, company=company)
    )
    UserFactory.create_batch(2, company=company)
    # when
    with time_machine.travel(T0, tick=False):
        license_count_set(company=company, quantity=10, actor=cs)
        first = license_assign(company=company, users=[single], actor=cs)
        second = license_assign_team(team=team, actor=cs)
        third = license_assign_company(company=company, actor=cs)
    # then
    assert [len(first.assigned), len(second.assigned), len(third.assigned)] == [1, 3, 2]
    assert len(third.already_licensed) == 4
    assert license_summary(company=company).assigned == 6
    assert set(LicenseAssignment.objects.values_list("assigned_by", "assigned_at")) == {
        (cs.pk, T0)
    }


def test_a3_assignment_a_user_holds_at_most_one_license():
    company = CompanyFactory()
    license_count_set(company=company, quantity=3, actor=None)
    user = UserFactory(company=company)
    license_assign(company=company, users=[user, user], actor=None)
    result = license_assign(company=company, users=[user], actor=None)
    assert result.already_licensed == [user]
    assert LicenseAssignment.objects.filter(user=user).count() == 1
    # and the database refuses a second active row whatever the code does
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenseAssignment.objects.create(company=company, user=user)


def test_a3_assignment_over_the_purchased_count_is_refused_as_a_whole():
    # given 3 purchased, 2 assigned
    company = CompanyFactory()
    license_count_set(company=company, quantity=3, actor=None)
    license_assign(
        company=company, users=UserFactory.create_batch(2, company=company), actor=None
    )
    team = TeamFactory(
        company=company, members=UserFactory.create_batch(2, company=company)
    )
    # when / then: the team needs 2, only 1 is free: nothing changes
    with pytest.raises(SeatLimitExceeded, match="1 free license"):
        license_assign_team(team=team, actor=None)
    assert license_summary(company=company).assigned == 2
    assert not LicenseAssignment.objects.filter(user__in=team.members.all()).exists()


def test_a3_assignment_lowering_the_count_below_the_assignments_is_refused():
    company = CompanyFactory()
    license_count_set(company=company, quantity=4, actor=None)
    license_assign(
        company=company, users=UserFactory.create_batch(3, company=company), actor=None
    )
    with pytest.raises(CountBelowAssigned, match="3 licenses assigned"):
        license_count_set(company=company, quantity=2, actor=None)
    # a scheduled decrease below the assignments is refused too
    with pytest.raises(CountBelowAssigned):
        license_count_set(
            company=company,
            quantity=1,
            actor=None,
            effective_at=datetime(2099, 1, 1, tzinfo=UTC),
        )
    assert license_summary(company=company).purchased == 4
    assert LicenseCountChange.objects.filter(company=company).count() == 1
    # lowering to exactly the assigned count is fine
    license_count_set(company=company, quantity=3, actor=None)
    assert license_summary(company=company).free == 0


def test_a3_assignment_revocation_is_recorded_with_actor_and_time():
    cs = StaffUserFactory()
    company = CompanyFactory()
    user = UserFactory(company=company)
    with time_machine.travel(T0, tick=False):
        license_count_set(company=company, quantity=1, actor=cs)
        license_assign(company=company, users=[user], actor=cs)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        license_revoke(company=company, users=[user], actor=cs)
    row = LicenseAssignment.objects.get(user=user)
    assert (row.assigned_at, row.assigned_by, row.revoked_at, row.revoked_by) == (
        T0,
        cs,
        T0 + timedelta(hours=2),
        cs,
    )


def test_a4_permission_only_a_user_holding_a_license_may_send():
    company = CompanyFactory()
    licensed, reader = UserFactory.create_batch(2, company=company)
    with time_machine.travel(T0, tick=False):
        license_count_set(company=company, quantity=1, actor=None)
        license_assign(company=company, users=[licensed], actor=None)
    at = T0 + timedelta(minutes=1)
    send_permission_check(user=licensed, company=company, at=at)
    with pytest.raises(SenderNotLicensed, match="holds no WhatsApp license"):
        send_permission_check(user=reader, company=company, at=at)


def test_a4_permission_revocation_takes_effect_immediately():
    company = CompanyFactory()
    user = UserFactory(company=company)
    with time_machine.travel(T0, tick=False):
        license_count_set(company=company, quantity=1, actor=None)
        license_assign(company=company, users=[user], actor=None)
    revoked_at = T0 + timedelta(hours=1)
    with time_machine.travel(revoked_at, tick=False):
        license_revoke(company=company, users=[user], actor=None)
    assert user_holds_license(user=user, at=revoked_at - timedelta(microseconds=1))
    assert not user_holds_license(user=user, at=revoked_at)
    with pytest.raises(SenderNotLicensed):
        send_permission_check(user=user, company=company, at=revoked_at)


def test_a4_permission_a_user_of_another_company_or_inactive_may_not_send():
    company, other = CompanyFactory(), CompanyFactory()
    license_count_set(company=other, quantity=1, actor=None)
    outsider = UserFactory(company=other)
    license_assign(company=other, users=[outsider], actor=None)
    with pytest.raises(SenderNotLicensed, match="not a user of"):
        send_permission_check(user=outsider, company=company, at=datetime.now(UTC))
    outsider.is_active = False
    outsider.save()
    with pytest.raises(SenderNotLicensed):
        send_permission_check(user=outsider, company=other, at=datetime.now(UTC))
