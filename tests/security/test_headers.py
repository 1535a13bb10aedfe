"""Response headers that keep pages out of caches and scripts out of pages.

Billing pages and downloads (invoices, their PDF and CSV, the month so far,
pricing, reconciliation, licenses and their fees) say ``Cache-Control: private,
no-store``: no shared proxy or browser cache keeps a copy. The routes are taken
from the URL configuration through the isolation sweep's tables, so a new
billing page is checked without touching this file.
"""

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils.cache import get_max_age

from .conftest import AFTER
from .test_isolation_sweep import (
    BILLING,
    OBJECTS,
    PARAM_IDS,
    ROUTES,
    sweepable,
    swept_routes,
)

pytestmark = pytest.mark.django_db


def _cache_directives(response) -> set[str]:
    return {
        part.strip().lower()
        for part in response.get("Cache-Control", "").split(",")
        if part.strip()
    }


def _billing_get_routes():
    return [
        r
        for r in sweepable(swept_routes())
        if ROUTES[r.name].kind == BILLING and ROUTES[r.name].method == "GET"
    ]


def test_every_billing_page_and_download_is_private_and_not_stored(tenants):
    a, _ = tenants
    client = Client()
    client.force_login(a.admin)
    routes = _billing_get_routes()
    names = {r.name for r in routes}
    assert {
        "billing:invoices",
        "billing:invoice",
        "billing:invoice-line",
        "billing:invoice-free",
        "billing:invoice-csv",
        "billing:invoice-pdf",
        "billing:usage",
        "billing:reconciliation",
        "billing:pricing",
        "licensing:licenses",
    } <= names
    failures = []
    with time_machine.travel(AFTER, tick=False):
        for route in routes:
            url = reverse(
                route.name,
                kwargs={
                    p: OBJECTS[PARAM_IDS[(route.name, p)]](a) for p in route.params
                },
            )
            response = client.get(url)
            directives = _cache_directives(response)
            if response.status_code != 200 or not {"private", "no-store"} <= directives:
                failures.append(
                    f"{url}: {response.status_code} "
                    f"Cache-Control: {response.get('Cache-Control')!r}"
                )
            elif get_max_age(response) not in (None, 0):
                failures.append(f"{url}: max-age {get_max_age(response)}")
    assert failures == []


def test_the_admin_invoice_pages_are_not_stored_either(tenants, cs_client):
    a, _ = tenants
    response = cs_client.get(
        reverse("admin:billing_invoice_change", args=[a.invoice.pk])
    )
    assert response.status_code == 200
    assert {"private", "no-store"} <= _cache_directives(response)
