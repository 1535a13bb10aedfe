"""Licensing services recorded as of a past instant (``at``)."""

from datetime import UTC, datetime

import pytest

from licensing.exceptions import InvalidLicenseChange, SeatLimitExceeded
from licensing.models import LicenseAssignment
from licensing.services import license_assign, license_count_set
from tests.factories import CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_history_recorded_as_of_a_past_instant_is_judged_then():
    """``at``: a change recorded as of then (the demo's history months back)."""
    company = CompanyFactory()
    july, august = (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC))
    change = license_count_set(
        company=company, quantity=1, actor=None, effective_at=july, at=july
    )
    assert (change.created_at, change.effective_at) == (july, july)
    # "never in the past" holds relative to ``at``
    with pytest.raises(InvalidLicenseChange):
        license_count_set(
            company=company, quantity=2, actor=None, effective_at=july, at=august
        )
    # the seat limit as in force then
    ana, bea = UserFactory.create_batch(2, company=company)
    license_assign(company=company, users=[ana], actor=None, at=august)
    assert LicenseAssignment.objects.get(user=ana).assigned_at == august
    with pytest.raises(SeatLimitExceeded):
        license_assign(company=company, users=[bea], actor=None, at=august)
