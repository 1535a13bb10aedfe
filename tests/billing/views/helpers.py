"""What the portal billing page tests share: the dates, some traffic, a login."""

from datetime import UTC, date, datetime, timedelta

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)


def traffic(world, n_marketing=3):
    for i in range(n_marketing):
        world.send_and_deliver("marketing", T + timedelta(minutes=i))
    world.contact_writes(T + timedelta(hours=1))
    world.send_and_deliver("utility", T + timedelta(hours=2))  # free, window open


def login(client, user):
    client.force_login(user)
    return client
