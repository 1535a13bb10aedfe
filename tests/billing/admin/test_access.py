"""Who may see and do what in the billing admin, through the test client."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.billing.admin.helpers import INVOICES
from tests.billing.admin.helpers import draft as _draft
from tests.billing.admin.helpers import world as _world
from tests.factories import CompanyAdminFactory, StaffUserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_now")]


@pytest.mark.parametrize(
    "model", ["market", "marketprefix", "ratecard", "invoice", "charge", "creditnote"]
)
def test_customer_success_sees_every_billing_list(cs_client, model):
    assert (
        cs_client.get(reverse(f"admin:billing_{model}_changelist")).status_code == 200
    )


# --- who may do what -------------------------------------------------------------------


ADMIN_URLS = [
    ("admin:billing_invoice_changelist", False),
    ("admin:billing_invoice_run_billing", False),
    ("admin:billing_charge_changelist", False),
    ("admin:billing_ratecard_changelist", False),
    ("admin:billing_ratecard_import", True),
    ("admin:billing_ratecard_export", True),
]


@pytest.mark.parametrize(("name", "needs_card"), ADMIN_URLS)
def test_a_company_user_is_sent_to_the_admin_login(client, rates, name, needs_card):
    client.force_login(CompanyAdminFactory())
    response = client.get(reverse(name, args=[rates.pk] if needs_card else []))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize(("name", "needs_card"), ADMIN_URLS)
def test_staff_without_the_customer_success_group_get_403(
    client, rates, name, needs_card
):
    client.force_login(StaffUserFactory())
    response = client.get(reverse(name, args=[rates.pk] if needs_card else []))
    assert response.status_code == 403


def test_view_only_staff_see_invoices_but_cannot_act_or_run_billing(client, rates):
    # given a staff user who may only view invoices and rate cards
    user = StaffUserFactory()
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="billing",
            codename__in=["view_invoice", "view_ratecard"],
        )
    )
    client.force_login(user)
    invoice = _draft(_world(rates))
    # then
    response = client.get(INVOICES)
    assert response.status_code == 200
    assert response.context["action_form"] is None  # no actions offered
    assert "run-billing" not in response.content.decode()
    assert client.get(reverse("admin:billing_invoice_run_billing")).status_code == 403
    assert client.post(
        INVOICES, {"action": "finalize", "_selected_action": [invoice.pk]}
    ).status_code in (200, 302)
    invoice.refresh_from_db()
    assert invoice.status == "draft"
    import_url = reverse("admin:billing_ratecard_import", args=[rates.pk])
    assert client.get(import_url).status_code == 403
    export_url = reverse("admin:billing_ratecard_export", args=[rates.pk])
    assert client.get(export_url).status_code == 200


def test_customer_success_has_exactly_the_billing_permissions(cs_user):
    from accounts.roles import CUSTOMER_SUCCESS_PERMISSIONS

    billing = {p for p in cs_user.get_all_permissions() if p.startswith("billing.")}
    assert billing == {
        p for p in CUSTOMER_SUCCESS_PERMISSIONS if p.startswith("billing.")
    }


def test_billing_runs_are_visible_to_customer_success_and_superusers(client, cs_client):
    url = reverse("admin:billing_billingrun_changelist")
    assert cs_client.get(url).status_code == 200
    client.force_login(StaffUserFactory(is_superuser=True, email="root@example.com"))
    assert client.get(url).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 200
