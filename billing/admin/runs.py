"""Billing runs: what each on-demand run did; view only."""

from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ViewOnlyAdmin

from ..models import BillingRun


@admin.register(BillingRun)
class BillingRunAdmin(ViewOnlyAdmin):
    """What each on-demand run did (``run_billing`` and the admin button)."""

    list_display = ("started_at", "month", "status", "companies", "triggered_by")
    list_filter = ("status",)
    fields = (
        "month",
        "status",
        "started_at",
        "finished_at",
        "companies",
        "triggered_by",
        "report",
    )
    readonly_fields = ("report",)

    @admin.display(description=_("report"))
    def report(self, obj):
        return format_html_join("\n", "<div>{}</div>", ((line,) for line in obj.log))
