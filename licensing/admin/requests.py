"""License requests in the admin (F6): Customer Success approve them, within the
seat limit (A3), or decline them; a request is never edited or deleted."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from accounts.exceptions import DomainError

from ..models import LicenseRequest
from ..services import license_request_approve, license_request_decline


@admin.register(LicenseRequest)
class LicenseRequestAdmin(admin.ModelAdmin):
    """Requests of users without a license. Approving goes through
    ``license_request_approve`` (so ``license_assign`` checks the seat limit);
    requests are never edited or deleted."""

    list_display = (
        "user",
        "company",
        "status",
        "created_at",
        "note",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "company")
    list_select_related = ("user", "company", "decided_by")
    search_fields = ("user__email", "user__full_name", "company__name", "note")
    readonly_fields = (
        "company",
        "user",
        "note",
        "created_at",
        "status",
        "decided_by",
        "decided_at",
    )
    fields = readonly_fields
    actions = ("approve_requests", "decline_requests")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The actions need the change permission; a single request is only viewed.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def _decide(self, request, queryset, service, *, done: str) -> None:
        decided = 0
        for license_request in queryset.select_related("user", "company"):
            try:
                service(request=license_request, actor=request.user)
            except DomainError as exc:
                self.message_user(
                    request,
                    f"{license_request.user.email}: {exc.message}",
                    messages.ERROR,
                )
            else:
                decided += 1
        if decided:
            self.message_user(request, done % {"n": decided}, messages.SUCCESS)

    @admin.action(
        description=_("Approve: assign a license (within the seat limit)"),
        permissions=["change"],
    )
    def approve_requests(self, request, queryset):
        self._decide(
            request,
            queryset,
            license_request_approve,
            done=_("%(n)d request(s) approved; the users hold a license."),
        )

    @admin.action(description=_("Decline"), permissions=["change"])
    def decline_requests(self, request, queryset):
        self._decide(
            request,
            queryset,
            license_request_decline,
            done=_("%(n)d request(s) declined."),
        )
