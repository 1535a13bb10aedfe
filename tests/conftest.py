import os

import pytest
from django.db import connection


def pytest_collection_modifyitems(config, items):
    """Skip PostgreSQL-only tests on the embedded SQLite run."""
    if connection.vendor == "postgresql" or os.environ.get(
        "DATABASE_URL", ""
    ).startswith("postgres"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def cs_user(db):
    from accounts.services import customer_success_group_sync
    from tests.factories import StaffUserFactory

    group = customer_success_group_sync()
    user = StaffUserFactory()
    user.groups.add(group)
    return user


@pytest.fixture
def cs_client(client, cs_user):
    client.force_login(cs_user)
    return client
