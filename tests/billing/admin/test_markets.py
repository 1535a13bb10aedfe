"""Markets and their prefixes in the admin (view only), through the test client."""

import pytest
from django.urls import reverse

from billing.models import Market

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_now")]


def test_markets_are_view_only_with_their_prefixes(cs_client):
    spain = Market.objects.get(name="Spain")
    response = cs_client.get(reverse("admin:billing_market_change", args=[spain.pk]))
    assert response.status_code == 200
    assert "34" in response.content.decode()
    assert (
        cs_client.post(
            reverse("admin:billing_market_change", args=[spain.pk]), {"name": "X"}
        ).status_code
        == 403
    )
    assert cs_client.get(reverse("admin:billing_market_add")).status_code == 403


def test_market_prefixes_search_by_calling_code_and_filter_by_market(cs_client):
    url = reverse("admin:billing_marketprefix_changelist")
    found = cs_client.get(url, {"q": "+34"}).context["cl"].result_list
    assert "Spain" in {p.country for p in found}
    spain = Market.objects.get(name="Spain")
    by_market = cs_client.get(url, {"market__id__exact": spain.pk})
    assert {p.market_id for p in by_market.context["cl"].result_list} == {spain.pk}
