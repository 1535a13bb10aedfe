"""The weekly idle license notices in the admin (F6), view only."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ViewOnlyAdmin
from accounts.money import format_money

from ..models import IdleLicenseNotice


@admin.register(IdleLicenseNotice)
class IdleLicenseNoticeAdmin(ViewOnlyAdmin):
    """The weekly idle license emails: to whom, which licenses, what it saves."""

    list_display = (
        "company",
        "week",
        "idle_count",
        "saving",
        "emailed_at",
        "recipient_list",
    )
    list_filter = ("week", "company")
    list_select_related = ("company",)
    search_fields = ("company__name",)
    date_hierarchy = "week"
    fields = (
        "company",
        "week",
        "idle_count",
        "saving",
        "license_list",
        "recipient_list",
        "created_at",
        "emailed_at",
    )
    readonly_fields = fields

    @admin.display(description=_("monthly saving"))
    def saving(self, obj):
        return format_money(obj.monthly_saving, obj.currency)

    @admin.display(description=_("recipients"))
    def recipient_list(self, obj):
        return ", ".join(obj.recipients)

    @admin.display(description=_("idle licenses"))
    def license_list(self, obj):
        return "; ".join(
            f"{item['name']} <{item['email']}>: "
            + (item.get("last_sent_at") or str(_("no message sent yet")))
            for item in obj.licenses
        )
