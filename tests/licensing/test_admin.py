"""The admin as Customer Success clicks it, through the test client."""

from decimal import Decimal

import pytest
from django.urls import reverse

from licensing.models import LicenseAssignment, LicenseCountChange, LicensePrice
from licensing.services import license_assign, license_count_set
from tests.factories import (
    CompanyAdminFactory,
    CompanyFactory,
    StaffUserFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _action(client, model_url, action, ids, **data):
    return client.post(
        reverse(model_url),
        {"action": action, "_selected_action": [str(i) for i in ids], **data},
        follow=True,
    )


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def test_company_list_shows_purchased_assigned_and_free(cs_client):
    company = CompanyFactory(name="Acme")
    license_count_set(company=company, quantity=4, actor=None)
    license_assign(company=company, users=[UserFactory(company=company)], actor=None)
    response = cs_client.get(reverse("admin:accounts_company_changelist"))
    assert response.status_code == 200
    row = response.context["cl"].result_list.get(pk=company.pk)
    assert (row.licenses_purchased, row.licenses_assigned) == (4, 1)
    assert b'<td class="field-licenses_free">3</td>' in response.content


def test_company_list_query_count_is_constant(cs_client, django_assert_max_num_queries):
    for _ in range(30):
        company = CompanyFactory()
        license_count_set(company=company, quantity=2, actor=None)
    with django_assert_max_num_queries(12):
        response = cs_client.get(reverse("admin:accounts_company_changelist"))
    assert response.status_code == 200


def test_cs_adds_a_license_count_change_and_it_is_attributed(cs_client, cs_user):
    company = CompanyFactory()
    response = cs_client.post(
        reverse("admin:licensing_licensecountchange_add"),
        {"company": company.pk, "quantity": 7, "note": "Contract 2026"},
        follow=True,
    )
    assert response.status_code == 200
    change = LicenseCountChange.objects.get(company=company)
    assert (change.quantity, change.created_by) == (7, cs_user)


def test_cs_lowering_below_assigned_sees_the_error_and_nothing_changes(cs_client):
    company = CompanyFactory()
    license_count_set(company=company, quantity=3, actor=None)
    license_assign(
        company=company, users=UserFactory.create_batch(3, company=company), actor=None
    )
    response = cs_client.post(
        reverse("admin:licensing_licensecountchange_add"),
        {"company": company.pk, "quantity": 1},
    )
    assert response.status_code == 200  # the form is shown again with the error
    assert "cannot go below" in response.content.decode()
    assert LicenseCountChange.objects.filter(company=company).count() == 1


def test_cs_negative_count_is_a_form_error(cs_client):
    company = CompanyFactory()
    response = cs_client.post(
        reverse("admin:licensing_licensecountchange_add"),
        {"company": company.pk, "quantity": -2},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not LicenseCountChange.objects.exists()


def test_cs_sets_a_negotiated_price(cs_client):
    company = CompanyFactory(billing_currency="EUR")
    cs_client.post(
        reverse("admin:licensing_licenseprice_add"),
        {"company": company.pk, "currency": "EUR", "monthly_amount": "12.5000"},
    )
    assert LicensePrice.objects.get(company=company).monthly_amount == Decimal("12.5")


def test_history_cannot_be_edited_or_deleted(cs_client):
    company = CompanyFactory()
    change = license_count_set(company=company, quantity=3, actor=None)
    url = reverse("admin:licensing_licensecountchange_change", args=[change.pk])
    cs_client.post(url, {"company": company.pk, "quantity": 99})
    change.refresh_from_db()
    assert change.quantity == 3
    delete = reverse("admin:licensing_licensecountchange_delete", args=[change.pk])
    assert cs_client.post(delete, {"post": "yes"}).status_code == 403


def test_cs_assigns_licenses_to_selected_users(cs_client, cs_user):
    company = CompanyFactory()
    license_count_set(company=company, quantity=2, actor=None)
    users = UserFactory.create_batch(2, company=company)
    response = _action(
        cs_client,
        "admin:accounts_user_changelist",
        "assign_license",
        [u.pk for u in users],
    )
    assert any("2 assigned" in m for m in _messages(response))
    assert set(LicenseAssignment.objects.values_list("assigned_by", flat=True)) == {
        cs_user.pk
    }


def test_cs_over_assignment_shows_an_error_and_nothing_changes(cs_client):
    company = CompanyFactory()
    license_count_set(company=company, quantity=1, actor=None)
    users = UserFactory.create_batch(3, company=company)
    response = _action(
        cs_client,
        "admin:accounts_user_changelist",
        "assign_license",
        [u.pk for u in users],
    )
    # named once: "<company> has 2 free licenses of 2; 3 were asked. …"
    [message] = _messages(response)
    assert message == (
        f"{company} has 1 free license of 1; 3 were asked. Nothing was assigned: "
        "buy more licenses or revoke some first."
    )
    assert not LicenseAssignment.objects.exists()


def test_cs_assigns_a_team_and_revokes_it(cs_client):
    company = CompanyFactory()
    license_count_set(company=company, quantity=5, actor=None)
    team = TeamFactory(
        company=company, members=UserFactory.create_batch(3, company=company)
    )
    _action(cs_client, "admin:accounts_team_changelist", "assign_team", [team.pk])
    assert LicenseAssignment.objects.filter(revoked_at=None).count() == 3
    # revoking asks first, listing who loses a license
    page = _action(
        cs_client, "admin:accounts_team_changelist", "revoke_team", [team.pk]
    )
    assert page.templates[0].name == "admin/portal/revoke_confirm.html"
    assert "This revokes 3 WhatsApp licenses now" in page.content.decode()
    assert LicenseAssignment.objects.filter(revoked_at=None).count() == 3
    _action(
        cs_client,
        "admin:accounts_team_changelist",
        "revoke_team",
        [team.pk],
        post="yes",
    )
    assert LicenseAssignment.objects.filter(revoked_at=None).count() == 0
    assert LicenseAssignment.objects.count() == 3  # the trail stays


def test_cs_assigns_every_user_of_a_company(cs_client):
    company = CompanyFactory()
    license_count_set(company=company, quantity=5, actor=None)
    UserFactory.create_batch(4, company=company)
    CompanyAdminFactory(company=company)
    _action(
        cs_client, "admin:accounts_company_changelist", "assign_all_users", [company.pk]
    )
    assert LicenseAssignment.objects.filter(company=company).count() == 5


def test_a_team_cannot_hold_users_of_another_company(cs_client):
    company, other = CompanyFactory(), CompanyFactory()
    foreign = UserFactory(company=other)
    response = cs_client.post(
        reverse("admin:accounts_team_add"),
        {"company": company.pk, "name": "Sales", "members": [foreign.pk]},
    )
    assert response.status_code == 200
    assert "members" in response.context["adminform"].form.errors


@pytest.mark.parametrize("name", ["accounts_company", "licensing_licenseassignment"])
def test_non_staff_users_cannot_reach_the_admin(client, name):
    user = CompanyAdminFactory()
    client.force_login(user)
    response = client.get(reverse(f"admin:{name}_changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_staff_without_the_customer_success_group_sees_nothing(client):
    client.force_login(StaffUserFactory())
    assert client.get(reverse("admin:accounts_company_changelist")).status_code == 403


def test_customer_success_group_has_exactly_its_permissions(cs_user):
    from accounts.roles import CUSTOMER_SUCCESS_PERMISSIONS

    perms = cs_user.get_all_permissions()
    installed = {
        p
        for p in CUSTOMER_SUCCESS_PERMISSIONS
        if p.split(".")[0] in {"accounts", "licensing"}
    }
    assert installed <= perms
    assert perms <= CUSTOMER_SUCCESS_PERMISSIONS
    assert "licensing.delete_licensecountchange" not in perms
    assert "accounts.delete_company" not in perms
