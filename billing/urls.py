from django.urls import path

from . import views, views_reconciliation

app_name = "billing"

urlpatterns = [
    path("invoices/", views.invoice_list, name="invoices"),
    path("invoices/<int:pk>/", views.invoice_detail, name="invoice"),
    path(
        "invoices/<int:pk>/lines/<int:line_pk>/",
        views.invoice_line_messages,
        name="invoice-line",
    ),
    path("invoices/<int:pk>/free/", views.invoice_free_templates, name="invoice-free"),
    path("invoices/<int:pk>/messages.csv", views.invoice_csv, name="invoice-csv"),
    path("invoices/<int:pk>/invoice.pdf", views.invoice_pdf, name="invoice-pdf"),
    path("usage/", views.usage_current, name="usage"),
    path("usage/budget/", views.budget_update, name="budget"),
    path(
        "reconciliation/",
        views_reconciliation.reconciliation,
        name="reconciliation",
    ),
    path("pricing/", views.pricing, name="pricing"),
]
