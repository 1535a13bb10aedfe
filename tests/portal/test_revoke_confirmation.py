"""Revoking licenses in the admin asks first, like the other bulk actions: a page
lists whose license ends, and nothing is revoked until it is confirmed."""

import pytest
from django.urls import reverse

from licensing.models import LicenseAssignment
from licensing.services import license_assign, license_count_set
from tests.factories import CompanyFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def _company(name: str, licensed: int, unlicensed: int = 0):
    company = CompanyFactory(name=name)
    license_count_set(company=company, quantity=licensed + 1, actor=None)
    users = [
        UserFactory(company=company, full_name=f"{name} user {i}")
        for i in range(licensed)
    ]
    license_assign(company=company, users=users, actor=None)
    others = [UserFactory(company=company) for _ in range(unlicensed)]
    return company, users, others


def _post(client, url_name, action, ids, **data):
    return client.post(
        reverse(url_name),
        {"action": action, "_selected_action": [str(i) for i in ids], **data},
        follow=True,
    )


def _active() -> int:
    return LicenseAssignment.objects.filter(revoked_at=None).count()


@pytest.mark.parametrize("confirm", [False, True])
def test_revoking_a_companys_licenses_lists_them_first(cs_client, confirm):
    acme, acme_users, _ = _company("Acme Iberia", 2)
    globex, globex_users, _ = _company("Globex México", 1)
    page = _post(
        cs_client,
        "admin:accounts_company_changelist",
        "revoke_all_users",
        [acme.pk, globex.pk],
    )
    html = page.content.decode()
    assert page.templates[0].name == "admin/portal/revoke_confirm.html"
    assert "This revokes 3 WhatsApp licenses now" in html
    for user in (*acme_users, *globex_users):
        assert user.email in html
    # posted back: the selection and the action
    assert 'name="post" value="yes"' in html
    assert html.count('name="_selected_action"') == 2
    assert _active() == 3
    if confirm:
        done = _post(
            cs_client,
            "admin:accounts_company_changelist",
            "revoke_all_users",
            [acme.pk, globex.pk],
            post="yes",
        )
        assert _active() == 0
        assert [str(m) for m in done.context["messages"]] == [
            "Acme Iberia: 2 revoked.",
            "Globex México: 1 revoked.",
        ]


def test_revoking_users_lists_only_the_holders(cs_client):
    company, licensed, unlicensed = _company("Acme Iberia", 1, unlicensed=1)
    ids = [licensed[0].pk, unlicensed[0].pk]
    page = _post(cs_client, "admin:accounts_user_changelist", "revoke_license", ids)
    html = page.content.decode()
    assert "This revokes 1 WhatsApp license now" in html
    assert licensed[0].email in html and unlicensed[0].email not in html
    assert _active() == 1
    _post(
        cs_client, "admin:accounts_user_changelist", "revoke_license", ids, post="yes"
    )
    assert _active() == 0


def test_revoking_a_team_lists_its_licensed_members(cs_client):
    company, licensed, _ = _company("Acme Iberia", 2)
    team = TeamFactory(company=company, members=licensed[:1])
    page = _post(cs_client, "admin:accounts_team_changelist", "revoke_team", [team.pk])
    html = page.content.decode()
    assert "This revokes 1 WhatsApp license now" in html
    assert licensed[0].email in html and licensed[1].email not in html


def test_nothing_to_revoke_says_so(cs_client):
    company = CompanyFactory()
    page = _post(
        cs_client, "admin:accounts_company_changelist", "revoke_all_users", [company.pk]
    )
    assert "nothing would be revoked" in page.content.decode()
