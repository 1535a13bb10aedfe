"""Finalized invoices and issued credit notes are emailed to the company's billing
contacts (D2): the PDF attached, each recipient in their language, once."""

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.urls import reverse
from django.utils.formats import date_format
from pypdf import PdfReader

from billing.exceptions import InvalidTransition
from billing.models import CreditNote, DocumentEmail, Invoice, InvoiceLine
from billing.selectors import document_emails_due
from billing.services import (
    credit_note_issue,
    document_email_send,
    invoice_compute,
    invoice_finalize,
)
from billing.tasks import document_email_send_task, document_emails_retry_task
from licensing.services import license_count_set, license_price_set
from tests.factories import CompanyAdminFactory, CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db

OCT = date(2026, 10, 1)
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def company():
    """Globex (Mexico, Spanish by country) billed 3 licenses at 10 MXN since
    before October; an admin who chose English, one without a choice, an agent."""
    with time_machine.travel(datetime(2026, 9, 1, tzinfo=UTC), tick=False):
        company = CompanyFactory(
            name="Globex México",
            slug="globex",
            country="MX",
            billing_currency="MXN",
            billing_timezone="America/Mexico_City",
            billing_email="facturas@globex.example",
        )
        license_price_set(
            company=company, currency="MXN", monthly_amount=Decimal("10"), actor=None
        )
        license_count_set(company=company, quantity=3, actor=None)
    CompanyAdminFactory(
        company=company, email="ada@globex.example", full_name="Ada", language="en"
    )
    CompanyAdminFactory(company=company, email="bea@globex.example", full_name="Bea")
    UserFactory(company=company, email="agent@globex.example")
    return company


def _finalized(company) -> Invoice:
    with time_machine.travel(NOW, tick=False):
        return invoice_finalize(invoice=invoice_compute(company=company, month=OCT))


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def _by_recipient() -> dict:
    return {m.to[0]: m for m in mail.outbox}


def test_a_finalized_invoice_is_emailed_to_admins_and_billing_email_with_its_pdf(
    company, django_capture_on_commit_callbacks
):
    # when the invoice is finalized
    with django_capture_on_commit_callbacks(execute=True):
        invoice = _finalized(company)

    # then each admin and the billing email get one email, the agent none
    emails = _by_recipient()
    assert sorted(emails) == [
        "ada@globex.example",
        "bea@globex.example",
        "facturas@globex.example",
    ]
    for message in emails.values():
        assert len(message.to) == 1
        [(filename, content, mimetype)] = message.attachments
        assert filename == f"{invoice.number}.pdf"
        assert mimetype == "application/pdf"
        assert content.startswith(b"%PDF")
        assert invoice.number in _pdf_text(content)
    # and every delivery is recorded as sent
    assert set(
        DocumentEmail.objects.filter(invoice=invoice).values_list("status", flat=True)
    ) == {DocumentEmail.Status.SENT}


def test_each_recipient_reads_their_own_language(
    company, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invoice = _finalized(company)
    emails = _by_recipient()

    # Ada chose English
    ada = emails["ada@globex.example"]
    assert ada.subject == f"Invoice {invoice.number} of Globex México for October 2026"
    assert ada.body.startswith("Hello Ada,")
    assert "Total: MX$30.00" in ada.body
    assert "Period: Oct. 1, 2026 – Oct. 31, 2026 (America/Mexico_City)" in ada.body
    # the due date frozen at finalization: issue date in Mexico City + the terms
    assert invoice.due_date is not None
    assert f"Due date: {date_format(invoice.due_date, 'DATE_FORMAT')}" in ada.body
    # Bea chose nothing and the billing email is the company's: Mexico reads Spanish
    bea = emails["bea@globex.example"]
    assert bea.subject == (
        f"Factura {invoice.number} de Globex México de octubre de 2026"
    )
    assert bea.body.startswith("Hola, Bea:")
    assert "Periodo: 1 de octubre de 2026 – 31 de octubre de 2026" in bea.body
    assert "Total:" in bea.body and "Total: MX$30.00" not in bea.body
    assert "Fecha de vencimiento: " in bea.body
    billing = emails["facturas@globex.example"]
    assert billing.body.startswith("Hola:")
    # and the attached PDF is in the recipient's language too
    assert "Period" in _pdf_text(ada.attachments[0][1])
    assert "Periodo" in _pdf_text(bea.attachments[0][1])


def test_a_repeated_finalize_or_send_never_emails_twice(
    company, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invoice = _finalized(company)
    assert len(mail.outbox) == 3

    # a second finalize is refused and records nothing
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(InvalidTransition),
        time_machine.travel(NOW, tick=False),
    ):
        invoice_finalize(invoice=invoice)
    # the tasks run again (a redelivered message), and the sweep
    for row in DocumentEmail.objects.all():
        document_email_send_task.delay(row.pk)
        document_email_send(email_id=row.pk, force=True)
    document_emails_retry_task.delay()

    assert len(mail.outbox) == 3
    assert DocumentEmail.objects.filter(invoice=invoice).count() == 3


class _Down(EmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


def test_a_failed_email_is_kept_retried_and_then_sent_once(
    company, settings, django_capture_on_commit_callbacks
):
    # given the mail server is down when the invoice is finalized
    settings.EMAIL_BACKEND = f"{__name__}._Down"
    with (
        time_machine.travel(NOW, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        invoice = _finalized(company)

    # then nothing left, and each row says why, for Customer Success
    assert mail.outbox == []
    rows = DocumentEmail.objects.filter(invoice=invoice)
    assert {r.status for r in rows} == {DocumentEmail.Status.FAILED}
    assert {r.attempts for r in rows} == {1}
    assert all("mail server down" in r.last_error for r in rows)
    # not tried again at once
    assert document_emails_due(at=NOW) == []

    # when the server is back and the sweep runs later
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(datetime(2026, 11, 10, 12, 30, tzinfo=UTC), tick=False):
        assert document_emails_retry_task.delay().get() == 3
        # and again
        assert document_emails_retry_task.delay().get() == 0

    # then each recipient got it exactly once
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ada@globex.example",
        "bea@globex.example",
        "facturas@globex.example",
    ]
    assert {r.status for r in rows.all()} == {DocumentEmail.Status.SENT}


def test_after_the_last_try_it_waits_for_customer_success(company, settings):
    settings.EMAIL_BACKEND = f"{__name__}._Down"
    with time_machine.travel(NOW, tick=False):
        invoice = invoice_finalize(invoice=invoice_compute(company=company, month=OCT))
    row = DocumentEmail.objects.filter(invoice=invoice).first()
    for _ in range(6):
        row = document_email_send(email_id=row.pk, at=NOW)
    assert row.attempts == 5 and row.status == DocumentEmail.Status.FAILED
    assert row.pk not in document_emails_due(at=datetime(2027, 1, 1, tzinfo=UTC))
    # Customer Success's "Send again" tries whatever the count
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    row = document_email_send(email_id=row.pk, force=True)
    assert row.status == DocumentEmail.Status.SENT and len(mail.outbox) == 1


def test_a_rolled_back_finalize_sends_nothing(
    company, django_capture_on_commit_callbacks
):
    from django.db import transaction

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        _finalized(company)
        raise RuntimeError("rolled back")
    assert mail.outbox == [] and not DocumentEmail.objects.exists()


def test_an_issued_credit_note_is_emailed_with_its_pdf(
    company, django_capture_on_commit_callbacks
):
    invoice = _finalized(company)
    mail.outbox.clear()
    line = invoice.lines.get(kind=InvoiceLine.Kind.LICENSE)

    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_issue(
            invoice=invoice,
            amounts={line.pk: Decimal("5")},
            reason="Two licenses unused",
            actor=None,
        )

    emails = _by_recipient()
    assert len(mail.outbox) == 3
    ada = emails["ada@globex.example"]
    assert ada.subject == (
        f"Credit note {note.number} of Globex México on invoice {invoice.number}"
    )
    assert "Reason: Two licenses unused" in ada.body
    [(filename, content, _mimetype)] = ada.attachments
    assert filename == f"{note.number}.pdf"
    text = _pdf_text(content)
    assert note.number in text and invoice.number in text
    assert emails["bea@globex.example"].subject.startswith(
        f"Nota de crédito {note.number}"
    )
    assert CreditNote.objects.get().emails.count() == 3


def test_customer_success_see_failed_emails_and_send_them_again(
    company, settings, cs_client
):
    # given the emails of an invoice failed
    settings.EMAIL_BACKEND = f"{__name__}._Down"
    with time_machine.travel(NOW, tick=False):
        invoice = invoice_finalize(invoice=invoice_compute(company=company, month=OCT))
    for row in DocumentEmail.objects.all():
        document_email_send(email_id=row.pk, at=NOW)
    url = reverse("admin:billing_documentemail_changelist")
    # when Customer Success list the failed ones
    page = cs_client.get(url, {"status": "failed"})
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("mail server down") == 3 and invoice.number in html
    # and send one again once the server is back, and a sent one again
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rows = list(DocumentEmail.objects.order_by("recipient"))
    response = cs_client.post(
        url,
        {"action": "send_again", "_selected_action": [rows[0].pk]},
        follow=True,
    )
    assert "1 email sent." in response.content.decode()
    response = cs_client.post(
        url,
        {"action": "send_again", "_selected_action": [rows[0].pk]},
        follow=True,
    )
    assert "had been sent already" in response.content.decode()
    assert [m.to for m in mail.outbox] == [[rows[0].recipient]]
    # a row is never edited
    change = reverse("admin:billing_documentemail_change", args=[rows[0].pk])
    assert b'name="recipient"' not in cs_client.get(change).content
