"""F7: Customer Success edit the one issuer record of invoices in the admin."""

import pytest
from django.urls import reverse

from billing.models import Issuer

pytestmark = pytest.mark.django_db


def _form(**overrides):
    data = {
        "legal_name": "Conversa Billing S.L.",
        "address": "Calle de Alcalá 21\n28014 Madrid",
        "tax_id": "esb12345674",
        "email": "facturacion@conversa.example",
        "payment_details": "IBAN ES91 2100 0418 4502 0005 1332",
        "payment_terms_days": "15",
    }
    return {**data, **overrides}


def test_the_add_form_starts_from_the_settings_defaults(cs_client, settings):
    page = cs_client.get(reverse("admin:billing_issuer_add")).content.decode()
    assert settings.BILLING_ISSUER["tax_id"] in page


def test_customer_success_save_the_issuer_once(cs_client):
    response = cs_client.post(reverse("admin:billing_issuer_add"), _form())
    assert response.status_code == 302
    issuer = Issuer.objects.get()
    assert issuer.tax_id == "ESB12345674"  # normalized
    assert issuer.payment_terms_days == 15
    # one record: no second add, no delete
    assert cs_client.get(reverse("admin:billing_issuer_add")).status_code == 403
    delete = reverse("admin:billing_issuer_delete", args=[issuer.pk])
    assert cs_client.post(delete, {"post": "yes"}).status_code == 403


def test_an_invalid_vat_number_or_terms_are_refused(cs_client):
    response = cs_client.post(
        reverse("admin:billing_issuer_add"),
        _form(tax_id="ESB12345675", payment_terms_days="400"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "not a valid VAT number" in errors["tax_id"][0]
    assert "payment_terms_days" in errors
    assert not Issuer.objects.exists()
