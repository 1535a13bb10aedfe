from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from licensing import rules

T = datetime(2026, 1, 1, tzinfo=UTC)


def h(*pairs):
    return [(T + timedelta(hours=hh), q) for hh, q in pairs]


def test_value_in_force_before_any_entry_is_the_default():
    assert rules.value_in_force(h((1, 5)), at=T, default=0) == 0
    assert rules.value_in_force(h((1, 5)), at=T + timedelta(hours=1), default=0) == 5


def test_value_in_force_later_entry_at_the_same_instant_wins():
    assert (
        rules.value_in_force(h((1, 5), (1, 7)), at=T + timedelta(hours=2), default=0)
        == 7
    )


def test_count_max_between_takes_the_highest_of_the_day():
    history = h((0, 3), (10, 9), (12, 2))
    assert rules.count_max_between(history, start=T, end=T + timedelta(days=1)) == 9
    # a change exactly at the end belongs to the next interval
    assert rules.count_max_between(history, start=T, end=T + timedelta(hours=10)) == 3


def test_seat_limit_counts_scheduled_decreases():
    history = h((0, 5), (48, 2))
    assert rules.seat_limit_from(history, at=T + timedelta(hours=1)) == 2
    assert rules.seat_limit_from(h((0, 5), (48, 9)), at=T + timedelta(hours=1)) == 5


@given(
    purchased=st.integers(0, 1000),
    assigned=st.integers(0, 1000),
    requested=st.integers(0, 1000),
)
def test_assignment_fits_never_allows_more_than_purchased(
    purchased, assigned, requested
):
    fits = rules.assignment_fits(
        purchased=purchased, assigned=assigned, requested=requested
    )
    assert fits == (assigned + requested <= purchased)
    assert rules.seats_free(purchased=purchased, assigned=assigned) >= 0


def test_license_is_active_edges():
    assert rules.license_is_active(assigned_at=T, revoked_at=None, at=T)
    assert not rules.license_is_active(
        assigned_at=T, revoked_at=None, at=T - timedelta(microseconds=1)
    )
    assert not rules.license_is_active(
        assigned_at=T, revoked_at=T + timedelta(1), at=T + timedelta(1)
    )


def test_may_send_needs_an_active_user_with_a_license():
    assert rules.may_send(user_is_active=True, holds_license=True)
    assert not rules.may_send(user_is_active=True, holds_license=False)
    assert not rules.may_send(user_is_active=False, holds_license=True)
