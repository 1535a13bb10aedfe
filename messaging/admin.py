import json
import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ViewOnlyAdmin
from accounts.exceptions import DomainError

from . import rules, selectors
from .models import (
    BusinessNumber,
    Contact,
    ContactOptIn,
    Conversation,
    ConversationAssignment,
    Message,
    MessageStatusEvent,
    MessageTemplate,
    TemplateEvent,
    WebhookDelivery,
)
from .services import delivery_reprocess

# F9: how far back Customer Success are told about dearer template categories.
COSTLIER_NOTICE_DAYS = 90

logger = logging.getLogger(__name__)


@admin.register(BusinessNumber)
class BusinessNumberAdmin(admin.ModelAdmin):
    list_display = ("__str__", "company", "phone_number_id", "waba_id", "is_active")
    list_filter = ("is_active", "company")
    list_select_related = ("company",)
    search_fields = (
        "display_phone_number",
        "phone_number_id",
        "label",
        "company__name",
    )
    autocomplete_fields = ("company",)

    def has_delete_permission(self, request, obj=None):
        return False


class CostlierCategoryFilter(admin.SimpleListFilter):
    """F9: templates the provider moved (or will move) to a dearer category."""

    title = _("category change")
    parameter_name = "costlier"

    def lookups(self, request, model_admin):
        return [("yes", _("Moved to a more expensive category"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(events__costs_more=True).distinct()
        return queryset


class TemplateEventInline(admin.TabularInline):
    model = TemplateEvent
    fields = (
        "occurred_at",
        "kind",
        "event",
        "reason",
        "previous_category",
        "new_category",
        "costs_more",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-occurred_at",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "language", "category", "status", "company")
    list_filter = ("category", "status", CostlierCategoryFilter, "company")
    list_select_related = ("company",)
    search_fields = ("name", "body", "company__name", "provider_template_id")
    autocomplete_fields = ("company",)
    inlines = [TemplateEventInline]

    def changelist_view(self, request, extra_context=None):
        """Say which templates became more expensive lately (F9)."""
        since = timezone.now() - timedelta(days=COSTLIER_NOTICE_DAYS)
        recent = (
            TemplateEvent.objects.filter(costs_more=True, occurred_at__gte=since)
            .values("template")
            .distinct()
            .count()
        )
        if recent and request.method == "GET":
            self.message_user(
                request,
                _(
                    "%(n)d template(s) moved to a more expensive category in the "
                    "last %(days)d days: filter by “category change”."
                )
                % {"n": recent, "days": COSTLIER_NOTICE_DAYS},
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    def get_readonly_fields(self, request, obj=None):
        # A sent template's identity never changes; its category at send time is
        # kept on each message anyway.
        return ("company", "name", "language") if obj else ()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Contact)
class ContactAdmin(ViewOnlyAdmin):
    list_display = ("__str__", "wa_id", "country", "company", "created_at")
    list_filter = ("country", "company")
    list_select_related = ("company",)
    search_fields = ("wa_id", "profile_name")


@admin.register(ContactOptIn)
class ContactOptInAdmin(ViewOnlyAdmin):
    list_display = (
        "contact",
        "business_number",
        "source",
        "opted_in_at",
        "recorded_by",
        "company",
    )
    list_filter = ("source", "company")
    list_select_related = ("contact", "business_number", "recorded_by", "company")
    search_fields = ("contact__wa_id", "contact__profile_name")
    date_hierarchy = "opted_in_at"


@admin.register(TemplateEvent)
class TemplateEventAdmin(ViewOnlyAdmin):
    list_display = (
        "occurred_at",
        "template",
        "kind",
        "event",
        "previous_category",
        "new_category",
        "costs_more",
        "company",
    )
    list_filter = ("costs_more", "kind", "event", "company")
    list_select_related = ("template", "company")
    search_fields = ("template__name",)
    date_hierarchy = "occurred_at"


class MessageInline(admin.TabularInline):
    model = Message
    fields = (
        "provider_timestamp",
        "direction",
        "type",
        "body",
        "template_category",
        "status",
        "delivered_at",
        "sender",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-provider_timestamp",)

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sender")


class AssignmentInline(admin.TabularInline):
    """Who answered the conversation over time (services.conversation_assign)."""

    model = ConversationAssignment
    fields = ("created_at", "assigned_to", "assigned_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(ViewOnlyAdmin):
    list_display = (
        "contact",
        "business_number",
        "company",
        "assigned_to",
        "last_inbound_at",
        "window_open",
        "last_message_at",
    )
    list_filter = ("company",)
    list_select_related = ("contact", "business_number", "company", "assigned_to")
    search_fields = ("contact__wa_id", "contact__profile_name")
    inlines = [AssignmentInline, MessageInline]

    @admin.display(boolean=True, description=_("window open"))
    def window_open(self, obj):
        return rules.window_is_open(
            last_inbound_at=obj.last_inbound_at, at=timezone.now()
        )


class StatusEventInline(admin.TabularInline):
    model = MessageStatusEvent
    fields = ("status", "timestamp", "error_code", "error_title", "pricing", "delivery")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(ViewOnlyAdmin):
    list_display = (
        "provider_timestamp",
        "direction",
        "type",
        "short_body",
        "template_category",
        "status",
        "delivered_at",
        "company",
    )
    list_filter = ("direction", "status", "type", "template_category", "company")
    list_select_related = ("company",)
    search_fields = ("wamid", "body", "conversation__contact__wa_id")
    date_hierarchy = "provider_timestamp"
    inlines = [StatusEventInline]
    show_full_result_count = False

    @admin.display(description=_("body"))
    def short_body(self, obj):
        return (obj.body[:60] + "…") if len(obj.body) > 60 else obj.body


@admin.register(MessageStatusEvent)
class MessageStatusEventAdmin(ViewOnlyAdmin):
    list_display = ("timestamp", "status", "wamid", "message", "error_code", "delivery")
    list_filter = ("status", ("message", admin.EmptyFieldListFilter))
    search_fields = ("wamid",)
    show_full_result_count = False


class DeadLetterFilter(admin.SimpleListFilter):
    """Failed deliveries the beat no longer retries (messaging.rules)."""

    title = _("retries")
    parameter_name = "dead"

    def lookups(self, request, model_admin):
        return [("yes", _("Dead letters"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return selectors.dead_deliveries(queryset=queryset)
        return queryset


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ViewOnlyAdmin):
    list_display = (
        "id",
        "received_at",
        "status",
        "summary",
        "attempts",
        "dead_letter",
        "processed_at",
    )
    list_filter = ("status", DeadLetterFilter)
    date_hierarchy = "received_at"
    search_fields = ("body_sha256", "body")
    actions = ["reprocess"]
    fields = (
        "received_at",
        "status",
        "processed_at",
        "attempts",
        "result",
        "error",
        "body_sha256",
        "pretty_body",
    )
    readonly_fields = fields
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body")

    @admin.display(description=_("result"))
    def summary(self, obj):
        r = obj.result or {}
        text = _("%(m)s messages, %(s)s statuses") % {
            "m": r.get("messages", 0),
            "s": r.get("statuses", 0),
        }
        if r.get("unknown_phone_number_ids"):
            text = (
                f"{text}; unknown numbers: {', '.join(r['unknown_phone_number_ids'])}"
            )
        return text

    @admin.display(boolean=True, description=_("dead letter"))
    def dead_letter(self, obj):
        return rules.delivery_is_dead(
            status=obj.status,
            attempts=obj.attempts,
            max_attempts=settings.WHATSAPP_WEBHOOK_MAX_ATTEMPTS,
        )

    @admin.display(description=_("body"))
    def pretty_body(self, obj):
        try:
            pretty = json.dumps(json.loads(obj.body), indent=2, ensure_ascii=False)
        except ValueError:
            pretty = obj.body
        return format_html('<pre class="pre-wrap">{}</pre>', pretty)

    def has_change_permission(self, request, obj=None):
        # Used only by the reprocess action; the form stays read-only.
        return obj is None and request.user.has_perm("messaging.change_webhookdelivery")

    @admin.action(
        description=_("Reprocess the selected deliveries"), permissions=["change"]
    )
    def reprocess(self, request, queryset):
        done = 0
        for delivery in queryset.only("pk"):
            try:
                delivery_reprocess(delivery=delivery)
                done += 1
            except (DomainError, ValueError) as exc:
                self.message_user(
                    request, f"Delivery {delivery.pk}: {exc}", messages.ERROR
                )
            except Exception as exc:  # noqa: BLE001 - kept on the delivery, shown
                # The failure is recorded on the delivery (status, error); say so
                # instead of a server error for the whole selection.
                logger.warning(
                    "Reprocessing delivery %s failed (%s)",
                    delivery.pk,
                    type(exc).__name__,
                )
                self.message_user(
                    request,
                    f"Delivery {delivery.pk}: {type(exc).__name__}: {exc}",
                    messages.ERROR,
                )
        self.message_user(
            request, _("%(n)d deliveries reprocessed.") % {"n": done}, messages.SUCCESS
        )
