"""F4 reconciliation in the admin: Customer Success review the pricing
disagreements with the provider (billing/services/reconciliation.py) before an invoice
can be finalized. Rows are derived facts: never added, edited or deleted here;
the "Mark reviewed" action goes through ``disagreements_review``.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..models import Invoice, PricingDisagreement
from ..selectors.reconciliation import invoice_disagreement_counts
from ..services.reconciliation import disagreements_review
from ..templatetags.billing_tags import category_label
from .base import MonthFilter, _invoice_link

# Rows listed on the review confirmation page; the others are counted.
REVIEW_PAGE_ROWS = 20


def _changelist_url(**params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = reverse("admin:billing_pricingdisagreement_changelist")
    return f"{url}?{query}" if query else url


def invoice_disagreements_link(invoice: Invoice):
    """The Invoice page's line: how many disagreements, how many to review."""
    total, unreviewed = invoice_disagreement_counts(invoice=invoice)
    if not total:
        return _("None: the provider's pricing agrees with ours.")
    text = ngettext(
        "%(total)d message where the provider's pricing differs from ours",
        "%(total)d messages where the provider's pricing differs from ours",
        total,
    ) % {"total": total}
    if unreviewed:
        return format_html(
            '<a href="{}">{}</a>; <a href="{}"><strong>{}</strong></a>',
            _changelist_url(invoice=invoice.pk),
            text,
            _changelist_url(invoice=invoice.pk, reviewed=ReviewedFilter.NO),
            ngettext(
                "%(n)d not reviewed yet (blocks finalizing)",
                "%(n)d not reviewed yet (block finalizing)",
                unreviewed,
            )
            % {"n": unreviewed},
        )
    return format_html(
        '<a href="{}">{}</a>; {}',
        _changelist_url(invoice=invoice.pk),
        text,
        _("all reviewed"),
    )


class ReviewedFilter(admin.SimpleListFilter):
    title = _("reviewed")
    parameter_name = "reviewed"
    NO, YES = "no", "yes"

    def lookups(self, request, model_admin):
        return [(self.NO, _("Not reviewed yet")), (self.YES, _("Reviewed"))]

    def queryset(self, request, queryset):
        if self.value() == self.NO:
            return queryset.filter(reviewed_at__isnull=True)
        if self.value() == self.YES:
            return queryset.filter(reviewed_at__isnull=False)
        return queryset


class DisagreementInvoiceFilter(admin.SimpleListFilter):
    """The invoice the Invoice page's link selects (invoices are not all listed)."""

    title = _("invoice")
    parameter_name = "invoice"

    def lookups(self, request, model_admin):
        value = self.value()
        if value and value.isdigit():
            invoice = Invoice.objects.select_related("company").filter(pk=value).first()
            if invoice is not None:
                return [(value, str(invoice))]
        return []

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(invoice_id=value) if value.isdigit() else queryset.none()


class ReviewForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_(
            "Why the difference is fine or what was done about it (kept on each row)."
        ),
    )


def _yes_no(billable: bool) -> str:
    return _("charged") if billable else _("free")


@admin.register(PricingDisagreement)
class PricingDisagreementAdmin(admin.ModelAdmin):
    """View only, except the "Mark reviewed" action (change permission)."""

    # No month column: the month is the filter's, and the delivery date says it.
    list_display = (
        "delivered_at",
        "company",
        "kind",
        "ours",
        "provider",
        "reviewed",
        "message_link",
        "invoice_link",
    )
    list_filter = (
        ReviewedFilter,
        "kind",
        MonthFilter,
        "company",
        DisagreementInvoiceFilter,
    )
    list_select_related = ("company", "invoice", "invoice__company", "message")
    search_fields = ("=message__wamid",)
    search_help_text = _("The exact WhatsApp message id (wamid.…).")
    show_full_result_count = False
    actions = ["mark_reviewed"]
    fields = (
        "company",
        "invoice_link",
        "month",
        "message_link",
        "delivered_at",
        "kind",
        "ours_billable",
        "ours_category",
        "ours_reason",
        "provider_billable",
        "provider_category",
        "provider_type",
        "provider_pricing",
        "detected_at",
        "reviewed_at",
        "reviewed_by",
        "review_note",
    )
    readonly_fields = ("invoice_link", "message_link", "provider_pricing")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The change permission runs the action; the detail page stays read-only.
        return obj is None and request.user.has_perm(
            "billing.change_pricingdisagreement"
        )

    # --- columns and detail -----------------------------------------------------------

    @admin.display(description=_("month"), ordering="month")
    def month_display(self, obj):
        return f"{obj.month:%Y-%m}"

    @admin.display(description=_("ours"))
    def ours(self, obj):
        return f"{_yes_no(obj.ours_billable)}, {category_label(obj.ours_category)}"

    @admin.display(description=_("provider's"))
    def provider(self, obj):
        text = (
            f"{_yes_no(obj.provider_billable)}, {category_label(obj.provider_category)}"
        )
        return f"{text} ({obj.provider_type})" if obj.provider_type else text

    @admin.display(description=_("reviewed"), boolean=True, ordering="reviewed_at")
    def reviewed(self, obj):
        return obj.is_reviewed

    @admin.display(description=_("message"))
    def message_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:messaging_message_change", args=[obj.message_id]),
            obj.message.wamid[:32],
        )

    @admin.display(description=_("invoice"), ordering="invoice")
    def invoice_link(self, obj):
        return _invoice_link(obj.invoice)

    @admin.display(description=_("provider's pricing object"))
    def provider_pricing(self, obj):
        return format_html(
            "<code>{}</code>", json.dumps(obj.message.pricing, ensure_ascii=False)
        )

    # --- the action -------------------------------------------------------------------

    @admin.action(
        description=_("Mark the selected disagreements reviewed…"),
        permissions=["change"],
    )
    def mark_reviewed(self, request, queryset):
        if request.POST.get("post") == "yes":
            form = ReviewForm(request.POST)
            if form.is_valid():
                n = disagreements_review(
                    disagreements=queryset,
                    actor=request.user,
                    note=form.cleaned_data["note"],
                )
                self.message_user(
                    request,
                    ngettext(
                        "%(n)d disagreement marked reviewed.",
                        "%(n)d disagreements marked reviewed.",
                        n,
                    )
                    % {"n": n}
                    + " "
                    + _(
                        "Rows already reviewed and rows of finalized invoices kept "
                        "their review."
                    ),
                    messages.SUCCESS,
                )
                return None
        else:
            form = ReviewForm()
        select_across = request.POST.get("select_across") == "1"
        rows = list(
            queryset.select_related("company", "message").order_by("delivered_at")[
                : REVIEW_PAGE_ROWS if select_across else None
            ]
        )
        return TemplateResponse(
            request,
            "admin/billing/pricingdisagreement/review.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Mark pricing disagreements reviewed"),
                "rows": rows[:REVIEW_PAGE_ROWS],
                "count": queryset.count(),
                # Posted back: every selected id, or "all that match the filters".
                "selected": rows[:1] if select_across else rows,
                "select_across": select_across,
                "action": "mark_reviewed",
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "form": form,
                "has_view_permission": True,
            },
        )
