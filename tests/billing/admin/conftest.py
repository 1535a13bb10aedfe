from datetime import UTC, datetime

import pytest
import time_machine

from tests.billing.admin.helpers import NOW
from tests.billing_world import rate_card


@pytest.fixture
def _now(settings):
    """Every test of these modules runs at NOW, when October has ended everywhere."""
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def rates():
    return rate_card(
        rates={
            ("Spain", "marketing"): "0.0615",
            ("Spain", "utility"): "0.0200",
            ("Spain", "authentication"): "0.0300",
        },
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
