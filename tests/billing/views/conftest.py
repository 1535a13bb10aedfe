from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.billing.views.helpers import T
from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory


@pytest.fixture(autouse=True)
def _statuses_by_hand(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False


@pytest.fixture
def world(client):
    rate_card(
        rates={
            ("Spain", "marketing"): "0.0615",
            ("Spain", "utility"): "0.0200",
            ("Rest of Latin America", "marketing"): "0.0740",
        },
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    w = World(client, start=T, tax_rate=Decimal("0.21"), license_price=Decimal("15"))
    w.admin = CompanyAdminFactory(company=w.company)
    return w
