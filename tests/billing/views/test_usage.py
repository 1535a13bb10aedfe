"""The customer portal's month so far through the test client."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from billing.models import Invoice
from tests.billing.views.helpers import OCT
from tests.billing.views.helpers import login as _login
from tests.billing.views.helpers import traffic as _traffic

pytestmark = pytest.mark.django_db


def test_usage_so_far_equals_the_invoice_for_the_same_facts(client, world):
    _traffic(world)
    _login(client, world.admin)
    with time_machine.travel(datetime(2026, 10, 20, tzinfo=UTC), tick=False):
        page = client.get(reverse("billing:usage"))
    assert page.status_code == 200
    assert "<svg" in page.content.decode()
    preview_total = page.context["invoice"].total
    assert not Invoice.objects.exists()  # nothing was saved
    assert world.invoice(OCT).total == preview_total
