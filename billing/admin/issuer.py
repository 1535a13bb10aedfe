"""The issuer of invoices (F7): one record, for Customer Success to edit. Until
it is saved, invoices show the settings' ``BILLING_ISSUER``; finalized invoices
keep the issuer they were finalized with."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import Issuer
from ..selectors import issuer_details


@admin.register(Issuer)
class IssuerAdmin(admin.ModelAdmin):
    list_display = ("legal_name", "tax_id", "payment_terms_days", "updated_at")
    fieldsets = (
        (None, {"fields": ("legal_name", "address", "tax_id", "email", "logo")}),
        (_("Payment"), {"fields": ("payment_details", "payment_terms_days")}),
    )

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not Issuer.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changeform_initial_data(self, request):
        defaults = issuer_details()
        return {
            key: defaults[key]
            for key in (
                "legal_name",
                "address",
                "tax_id",
                "email",
                "payment_details",
                "payment_terms_days",
            )
        }
