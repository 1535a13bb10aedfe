"""The PDFs of billing documents outside a request (emails, the admin): the same
templates and context as the portal's downloads, in the active language."""

from django.template.loader import render_to_string
from django.utils import translation


def _pdf(template: str, context: dict) -> bytes:
    from weasyprint import HTML

    html = render_to_string(
        template, {**context, "LANGUAGE_CODE": translation.get_language()}
    )
    return HTML(string=html).write_pdf()


def invoice_pdf(invoice) -> bytes:
    """The invoice's PDF, as the portal's "Download PDF" gives it."""
    from .selectors import invoice_document

    return _pdf("billing/invoice_pdf.html", invoice_document(invoice))


def credit_note_pdf(credit_note) -> bytes:
    """The credit note's PDF, as the portal's download gives it."""
    from .selectors import credit_note_document

    return _pdf("billing/credit_note_pdf.html", credit_note_document(credit_note))


def document_filename(document) -> str:
    """``INV-2026-000042.pdf``, ``CN-2026-000001.pdf``; a draft by its month."""
    number = getattr(document, "number", None)
    return f"{number or f'draft-{document.month:%Y-%m}'}.pdf"
