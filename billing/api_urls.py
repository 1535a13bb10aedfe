"""Routes of billing's JSON API, mounted under ``api/`` beside messaging's."""

from django.urls import path

from . import api

urlpatterns = [
    path("invoices/", api.InvoiceListView.as_view(), name="api-invoice-list"),
    path(
        "invoices/<int:invoice_id>/",
        api.InvoiceDetailView.as_view(),
        name="api-invoice-detail",
    ),
    path(
        "invoices/<int:invoice_id>/lines/<int:line_id>/charges/",
        api.InvoiceLineChargeListView.as_view(),
        name="api-invoice-line-charges",
    ),
    path(
        "invoices/<int:invoice_id>/free-messages/",
        api.InvoiceFreeMessageListView.as_view(),
        name="api-invoice-free-messages",
    ),
    path(
        "credit-notes/", api.CreditNoteListView.as_view(), name="api-credit-note-list"
    ),
    path(
        "credit-notes/<int:credit_note_id>/",
        api.CreditNoteDetailView.as_view(),
        name="api-credit-note-detail",
    ),
    path("usage/", api.UsageView.as_view(), name="api-usage"),
]
