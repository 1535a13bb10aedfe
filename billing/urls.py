from django.urls import path

from .views import details, invoices, pricing, reconciliation, usage

app_name = "billing"

urlpatterns = [
    path("invoices/", invoices.invoice_list, name="invoices"),
    path("invoices/<int:pk>/", invoices.invoice_detail, name="invoice"),
    path(
        "invoices/<int:pk>/lines/<int:line_pk>/",
        invoices.invoice_line_messages,
        name="invoice-line",
    ),
    path(
        "invoices/<int:pk>/free/", invoices.invoice_free_templates, name="invoice-free"
    ),
    path("invoices/<int:pk>/messages.csv", invoices.invoice_csv, name="invoice-csv"),
    path("invoices/<int:pk>/invoice.pdf", invoices.invoice_pdf, name="invoice-pdf"),
    path("credit-notes/<int:pk>/", invoices.credit_note_detail, name="credit-note"),
    path(
        "credit-notes/<int:pk>/pdf/", invoices.credit_note_pdf, name="credit-note-pdf"
    ),
    path("details/", details.billing_details, name="details"),
    path("usage/", usage.usage_current, name="usage"),
    path("usage/budget/", usage.budget_update, name="budget"),
    path(
        "reconciliation/",
        reconciliation.reconciliation,
        name="reconciliation",
    ),
    path("pricing/", pricing.pricing, name="pricing"),
]
