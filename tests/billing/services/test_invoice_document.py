"""F7: finalizing an invoice freezes its issuer, its customer, its payment
terms and its due date; later edits never change a finalized invoice, and a
draft shows the current details."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from accounts.services import company_billing_details_update
from billing.models import Issuer
from billing.selectors import invoice_document
from billing.services import invoice_compute, invoice_finalize
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db
OCT = date(2026, 10, 1)


@pytest.fixture(autouse=True)
def _no_sandbox_statuses(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False


def _draft(tz="Europe/Madrid", **company):
    company = CompanyFactory(
        billing_timezone=tz,
        legal_name="Acme Iberia S.L.",
        tax_id="ESB12345674",
        **company,
    )
    with time_machine.travel(datetime(2026, 11, 2, tzinfo=UTC), tick=False):
        return invoice_compute(company=company, month=OCT)


def _finalize(invoice, at):
    with time_machine.travel(at, tick=False):
        return invoice_finalize(invoice=invoice, at=at)


def test_finalizing_freezes_the_issuer_the_customer_terms_and_due_date():
    Issuer.objects.create(
        legal_name="Issuer S.A.",
        address="Paseo 1\nMadrid",
        tax_id="ESA58818501",
        payment_details="IBAN ES91 2100 0418 4502 0005 1332",
        payment_terms_days=15,
    )
    invoice = _finalize(_draft(), datetime(2026, 11, 4, 9, tzinfo=UTC))
    assert invoice.billing_details["name"] == "Acme Iberia S.L."
    assert invoice.billing_details["tax_id"] == "ESB12345674"
    assert invoice.issuer_details == {
        "legal_name": "Issuer S.A.",
        "address": "Paseo 1\nMadrid",
        "tax_id": "ESA58818501",
        "email": "",
        "payment_details": "IBAN ES91 2100 0418 4502 0005 1332",
        "logo": "",
    }
    assert invoice.payment_terms_days == 15
    assert invoice.due_date == date(2026, 11, 19)


def test_later_edits_never_change_a_finalized_invoice():
    invoice = _finalize(_draft(), datetime(2026, 11, 4, 9, tzinfo=UTC))
    company_billing_details_update(
        company=invoice.company,
        legal_name="Renamed S.L.",
        tax_id="ESA58818501",
        billing_address="Elsewhere 2",
    )
    Issuer.objects.create(
        legal_name="New Issuer S.A.",
        address="x",
        tax_id="DE136695976",
        payment_terms_days=60,
    )
    invoice.refresh_from_db()
    document = invoice_document(invoice)
    assert document["details"]["name"] == "Acme Iberia S.L."
    assert document["details"]["tax_id"] == "ESB12345674"
    assert document["details"]["address"] == "1 Main Street"
    assert document["issuer"]["legal_name"] != "New Issuer S.A."
    assert document["issuer"]["tax_id"] == "ESB12345674"  # the settings' default
    assert document["due_date"] == date(2026, 12, 4)  # 30 days, not 60
    assert document["payment_terms_days"] == 30


def _png(colour: str) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 10), colour).save(out, format="PNG")
    return out.getvalue()


def _data_uri(png: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def test_a_finalized_invoice_keeps_its_logo_when_the_issuer_changes_it():
    from django.core.files.base import ContentFile

    first, second = _png("#0b5c4a"), _png("#aa0000")
    issuer = Issuer(legal_name="Issuer S.A.", address="Paseo 1", tax_id="ESA58818501")
    issuer.logo.save("logo.png", ContentFile(first), save=True)
    invoice = _finalize(_draft(), datetime(2026, 11, 4, 9, tzinfo=UTC))
    draft = _draft(slug="other-co")
    # Customer Success uploads a new logo under the same file name.
    issuer.logo.save("logo.png", ContentFile(second), save=True)
    invoice.refresh_from_db()
    assert invoice_document(invoice)["logo_src"] == _data_uri(first)
    assert invoice_document(draft)["logo_src"] == _data_uri(second)
    # The issuer removes the logo: the finalized invoice still has its own.
    issuer.logo = ""
    issuer.save()
    assert invoice_document(invoice)["logo_src"] == _data_uri(first)
    assert invoice_document(draft)["logo_src"] == ""


def test_a_frozen_logo_gone_from_the_storage_shows_no_logo():
    from django.core.files.base import ContentFile

    issuer = Issuer(legal_name="Issuer S.A.", address="Paseo 1", tax_id="ESA58818501")
    issuer.logo.save("logo.png", ContentFile(_png("#0b5c4a")), save=True)
    invoice = _finalize(_draft(), datetime(2026, 11, 4, 9, tzinfo=UTC))
    Issuer._meta.get_field("logo").storage.delete(invoice.issuer_details["logo"])
    document = invoice_document(invoice)
    assert document["logo_src"] == ""
    assert document["issuer"]["legal_name"] == "Issuer S.A."


def test_a_draft_shows_the_current_details():
    draft = _draft()
    company_billing_details_update(
        company=draft.company, legal_name="Renamed S.L.", tax_id="ESA58818501"
    )
    draft.refresh_from_db()
    document = invoice_document(draft)
    assert document["details"]["name"] == "Renamed S.L."
    assert document["details"]["tax_id"] == "ESA58818501"
    assert document["due_date"] is None
    assert document["customer_status"] == "draft"


@pytest.mark.parametrize(
    "tz, finalized_at, issued_on",
    [
        # 23:30 UTC on 3 November: the 4th in Madrid, the 3rd elsewhere
        ("UTC", datetime(2026, 11, 3, 23, 30, tzinfo=UTC), date(2026, 11, 3)),
        ("Europe/Madrid", datetime(2026, 11, 3, 23, 30, tzinfo=UTC), date(2026, 11, 4)),
        (
            "America/Mexico_City",
            datetime(2026, 11, 4, 3, 0, tzinfo=UTC),
            date(2026, 11, 3),
        ),
        (
            "America/New_York",
            datetime(2026, 11, 4, 3, 0, tzinfo=UTC),
            date(2026, 11, 3),
        ),
    ],
)
def test_the_due_date_counts_from_the_issue_date_in_the_company_zone(
    tz, finalized_at, issued_on
):
    invoice = _finalize(_draft(tz, slug=f"co-{tz.lower()}"), finalized_at)
    document = invoice_document(invoice)
    assert document["issued_on"] == issued_on
    assert invoice.due_date == date.fromordinal(issued_on.toordinal() + 30)


def test_the_status_turns_overdue_the_day_after_the_due_date_in_the_company_zone():
    invoice = _finalize(_draft(), datetime(2026, 11, 4, 9, tzinfo=UTC))
    assert invoice.due_date == date(2026, 12, 4)
    # 22:59:59 UTC on 4 December is 23:59:59 in Madrid: still on time
    with time_machine.travel(datetime(2026, 12, 4, 22, 59, 59, tzinfo=UTC)):
        assert invoice_document(invoice)["customer_status"] == "open"
    with time_machine.travel(datetime(2026, 12, 4, 23, 0, 0, tzinfo=UTC)):
        assert invoice_document(invoice)["customer_status"] == "overdue"
