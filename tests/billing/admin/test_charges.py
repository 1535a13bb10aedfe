"""The charge admin (view only) as Customer Success clicks it, through the test client."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import Charge, Invoice, Market
from messaging.models import Message
from tests.billing.admin.helpers import NOW, OCT, T
from tests.billing.admin.helpers import draft as _draft
from tests.billing.admin.helpers import empty_invoices as _empty_invoices
from tests.billing.admin.helpers import finalized as _finalized
from tests.billing.admin.helpers import queries as _queries
from tests.billing.admin.helpers import world as _world
from tests.factories import ConversationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_now")]


def _charges(invoice: Invoice, n: int) -> None:
    """Charges written directly: for list pages, not for billing logic."""
    conversation = ConversationFactory(business_number__company=invoice.company)
    spain = Market.objects.get(name="Spain")
    for i in range(n):
        message = Message.objects.create(
            company=invoice.company,
            conversation=conversation,
            direction=Message.Direction.OUTBOUND,
            type="template",
            template_category="marketing",
            wamid=f"wamid.ADMIN{invoice.pk}-{i}",
            provider_timestamp=T,
            status=Message.Status.DELIVERED,
            delivered_at=T,
        )
        Charge.objects.create(
            message=message,
            company=invoice.company,
            category="marketing",
            market=spain,
            delivered_at=T,
            billable=True,
            reason="charged_marketing",
            rate=Decimal("0.0615"),
            amount=Decimal("0.0615"),
            currency="EUR",
            invoice=invoice,
        )


def test_charge_list_query_count_does_not_grow_with_rows(
    cs_client, django_assert_max_num_queries
):
    (invoice,) = _empty_invoices(1)
    _charges(invoice, 3)
    url = reverse("admin:billing_charge_changelist")
    with django_assert_max_num_queries(15):
        few = _queries(cs_client, url)
    _charges(_empty_invoices(1)[0], 27)
    with django_assert_max_num_queries(few):
        response = cs_client.get(url)
    assert len(response.context["cl"].result_list) == 30


def test_the_charges_link_lists_exactly_the_invoice_charges(cs_client, rates):
    invoice = _finalized(_world(rates))
    _world(rates, marketing=2).invoice(OCT, at=NOW)  # another company's charges
    url = reverse("admin:billing_charge_changelist")
    response = cs_client.get(url, {"invoice": invoice.pk})
    rows = list(response.context["cl"].result_list)
    assert {c.invoice_id for c in rows} == {invoice.pk}
    assert len(rows) == 4
    assert str(invoice) in response.content.decode()  # the selected filter
    assert len(cs_client.get(url).context["cl"].result_list) == 6


def test_charge_search_by_wamid_and_filters(cs_client, rates):
    world = _world(rates, marketing=2)
    message = Message.objects.filter(company=world.company).first()
    _draft(world)
    url = reverse("admin:billing_charge_changelist")
    found = cs_client.get(url, {"q": message.wamid}).context["cl"].result_list
    assert [c.message_id for c in found] == [message.pk]
    free = cs_client.get(url, {"billable__exact": "0"}).context["cl"].result_list
    assert list(free) == []
    not_invoiced = cs_client.get(url, {"invoice": "none"}).context["cl"].result_list
    assert list(not_invoiced) == []
    charge = Charge.objects.first()
    detail = cs_client.get(reverse("admin:billing_charge_change", args=[charge.pk]))
    assert detail.status_code == 200
    assert reverse("admin:billing_invoice_change", args=[charge.invoice_id]) in (
        detail.content.decode()
    )
