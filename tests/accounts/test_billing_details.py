"""F7: a customer's tax ID checked for its country, and the billing details
service: validated whole, nothing saved when refused."""

import pytest
from django.core.exceptions import ValidationError

from accounts.rules import tax_id_check
from accounts.services import company_billing_details_update
from tests.factories import CompanyFactory


@pytest.mark.parametrize(
    "country, typed, printed",
    [
        ("ES", "ESB12345674", "ESB12345674"),
        ("ES", "es b-1234567.4", "ESB12345674"),  # spaces, dots, dashes, case
        ("ES", "B12345674", "ESB12345674"),  # the prefix is added
        ("DE", "DE136695976", "DE136695976"),
        ("FR", "FR40303265045", "FR40303265045"),
        ("GR", "094014201", "EL094014201"),  # Greece's VAT prefix is EL
        ("MX", "GODE561231GR8", "GODE561231GR8"),  # Mexico's RFC
        ("US", "12-3456789", "123456789"),  # no national check known: the shape
        ("ES", "", ""),
    ],
)
def test_valid_tax_ids_are_printed_normalized(country, typed, printed):
    check = tax_id_check(country=country, tax_id=typed)
    assert (check.value, check.problem) == (printed, "")


@pytest.mark.parametrize(
    "country, typed, problem",
    [
        ("ES", "ESB12345675", "not a valid VAT number of ES"),  # check digit
        ("ES", "DE136695976", "starts with ES"),  # another member state's
        ("DE", "DE13669597", "not a valid VAT number of DE"),  # too short
        ("MX", "XXXX", "not a valid tax ID of MX"),
        ("US", "#", "2 to 30 letters and digits"),
    ],
)
def test_invalid_tax_ids_say_why(country, typed, problem):
    assert problem in tax_id_check(country=country, tax_id=typed).problem


@pytest.mark.django_db
def test_the_service_saves_normalized_details():
    company = CompanyFactory(country="ES")
    saved = company_billing_details_update(
        company=company,
        legal_name=" Acme Iberia S.L. ",
        billing_address="Gran Vía 1\n28013 Madrid",
        tax_id="b12345674",
        billing_email="facturas@acme.example",
    )
    company.refresh_from_db()
    assert saved.tax_id == company.tax_id == "ESB12345674"
    assert company.legal_name == "Acme Iberia S.L."
    assert company.invoice_name == "Acme Iberia S.L."


@pytest.mark.django_db
def test_a_refused_update_changes_nothing():
    company = CompanyFactory(country="ES", tax_id="ESB12345674", legal_name="Old S.L.")
    with pytest.raises(ValidationError) as refused:
        company_billing_details_update(
            company=company,
            legal_name="New S.L.",
            tax_id="ESB00000001",
            billing_email="not-an-email",
        )
    assert set(refused.value.message_dict) == {"tax_id", "billing_email"}
    company.refresh_from_db()
    assert (company.legal_name, company.tax_id) == ("Old S.L.", "ESB12345674")


@pytest.mark.django_db
def test_only_billing_details_go_through_the_service():
    with pytest.raises(TypeError):
        company_billing_details_update(company=CompanyFactory(), tax_rate="0")


@pytest.mark.django_db
def test_the_company_admin_form_validates_the_tax_id_too():
    """Customer Success's company form runs the model's validation: the same rule."""
    company = CompanyFactory(country="DE")
    company.tax_id = "ESB12345674"
    with pytest.raises(ValidationError) as refused:
        company.full_clean()
    assert "starts with DE" in refused.value.message_dict["tax_id"][0]
    company.tax_id = "de 136 695 976"
    company.full_clean()
    assert company.tax_id == "DE136695976"
