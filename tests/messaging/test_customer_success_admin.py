"""Customer Success in the admin: the company's opt-in setting (F8), opt-ins
and template events (F9) view only."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from messaging.models import ContactOptIn, TemplateEvent
from tests.factories import (
    CompanyFactory,
    ContactOptInFactory,
    MessageTemplateFactory,
)

pytestmark = pytest.mark.django_db


def test_customer_success_turn_the_opt_in_check_off_for_a_company(cs_client):
    company = CompanyFactory()
    url = reverse("admin:accounts_company_change", args=[company.pk])
    form = cs_client.get(url)
    assert 'name="whatsapp_opt_in_required"' in form.content.decode()
    data = {
        "name": company.name,
        "slug": company.slug,
        "country": company.country,
        "billing_email": company.billing_email,
        "billing_address": company.billing_address,
        "billing_currency": company.billing_currency,
        "billing_timezone": company.billing_timezone,
        "tax_rate": "0",
        # the setting left unchecked
    }
    # the license inlines' management forms, as the page renders them
    page = form.content.decode()

    for prefix in re.findall(r'name="([\w-]+)-TOTAL_FORMS"', page):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    response = cs_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    company.refresh_from_db()
    assert company.whatsapp_opt_in_required is False


def test_customer_success_see_opt_ins_and_template_events_read_only(cs_client):
    opt_in = ContactOptInFactory()
    template = MessageTemplateFactory()
    TemplateEvent.objects.create(
        company=template.company,
        template=template,
        kind=TemplateEvent.Kind.CATEGORY,
        previous_category="utility",
        new_category="marketing",
        costs_more=True,
        occurred_at=datetime(2026, 6, 1, tzinfo=UTC),
    )
    opt_ins = cs_client.get(reverse("admin:messaging_contactoptin_changelist"))
    events = cs_client.get(
        reverse("admin:messaging_templateevent_changelist"), {"costs_more__exact": "1"}
    )
    assert opt_ins.status_code == events.status_code == 200
    assert str(opt_in.contact) in opt_ins.content.decode()
    assert template.name in events.content.decode()
    assert (
        cs_client.get(
            reverse("admin:messaging_contactoptin_change", args=[opt_in.pk])
        ).status_code
        == 200
    )
    assert (
        cs_client.post(
            reverse("admin:messaging_contactoptin_delete", args=[opt_in.pk]),
            {"post": "yes"},
        ).status_code
        == 403
    )
    assert ContactOptIn.objects.filter(pk=opt_in.pk).exists()
