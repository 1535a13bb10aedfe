"""Seat limit under concurrency: row lock on the company (PostgreSQL only)."""

import threading

import pytest
from django.db import connection

from licensing.exceptions import SeatLimitExceeded
from licensing.models import LicenseAssignment
from licensing.services import license_assign, license_count_set
from tests.factories import CompanyFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_threads_race_for_five_free_licenses_and_exactly_five_win():
    # given 10 purchased, 5 already assigned, 20 users racing for the other 5
    company = CompanyFactory()
    license_count_set(company=company, quantity=10, actor=None)
    license_assign(
        company=company, users=UserFactory.create_batch(5, company=company), actor=None
    )
    racers = UserFactory.create_batch(20, company=company)
    barrier = threading.Barrier(len(racers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def race(user):
        try:
            barrier.wait()
            license_assign(company=company, users=[user], actor=None)
            result = "won"
        except SeatLimitExceeded:
            result = "refused"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    # when
    threads = [threading.Thread(target=race, args=(u,)) for u in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then
    assert outcomes.count("won") == 5
    assert outcomes.count("refused") == 15
    assert (
        LicenseAssignment.objects.filter(company=company, revoked_at=None).count() == 10
    )


def test_count_decrease_racing_assignments_never_leaves_over_assignment():
    from licensing.exceptions import CountBelowAssigned
    from licensing.selectors import license_summary

    company = CompanyFactory()
    license_count_set(company=company, quantity=6, actor=None)
    racers = UserFactory.create_batch(6, company=company)
    barrier = threading.Barrier(len(racers) + 1)

    def assign(user):
        try:
            barrier.wait()
            license_assign(company=company, users=[user], actor=None)
        except SeatLimitExceeded:
            pass
        finally:
            connection.close()

    def lower():
        try:
            barrier.wait()
            license_count_set(company=company, quantity=3, actor=None)
        except CountBelowAssigned:
            pass
        finally:
            connection.close()

    threads = [threading.Thread(target=assign, args=(u,)) for u in racers]
    threads.append(threading.Thread(target=lower))
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    summary = license_summary(company=company)
    assert summary.assigned <= summary.purchased
