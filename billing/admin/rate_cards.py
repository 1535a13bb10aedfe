"""Rate cards: the price list and company cards, their rates as history, and
the CSV import and export through ``billing.rate_cards``."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ReadOnlyInline

from ..exceptions import InvalidRateCard
from ..forms.rate_cards import RateCardForm, RateCardImportForm
from ..models import Rate, RateCard
from ..services.rate_cards import rate_card_export, rate_card_import


class RateInline(ReadOnlyInline):
    model = Rate
    fields = (
        "market",
        "category",
        "rate",
        "effective_from",
        "created_by",
        "created_at",
    )
    readonly_fields = fields
    ordering = ("market__name", "category", "effective_from")
    verbose_name_plural = _("Rates (history; add rates with “Import CSV”)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("market", "created_by")


@admin.register(RateCard)
class RateCardAdmin(admin.ModelAdmin):
    form = RateCardForm
    list_display = ("__str__", "owner", "currency", "rate_count", "created_at")
    list_filter = ("currency", ("company", admin.EmptyFieldListFilter))
    list_select_related = ("company",)
    search_fields = ("name", "company__name", "company__slug", "currency")
    autocomplete_fields = ("company",)
    inlines = [RateInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(rate_count=Count("rates"))

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a new card has no rates

    def get_readonly_fields(self, request, obj=None):
        # A card's owner and currency never change: its rates are priced in them.
        return ("company", "currency", "created_at") if obj else ()

    def save_model(self, request, obj, form, change):
        if form.saved is not None:  # created by rate_card_create in the form
            obj.pk, obj.created_at = form.saved.pk, form.saved.created_at
            return
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        return False  # rates are history; cards holding them are never deleted

    @admin.display(description=_("owner"), ordering="company__name")
    def owner(self, obj):
        return obj.company.name if obj.company_id else _("Price list")

    @admin.display(description=_("rates"), ordering="rate_count")
    def rate_count(self, obj):
        return obj.rate_count

    def _can_import(self, request) -> bool:
        return request.user.has_perm("billing.add_rate")

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/import/",
                view(self.import_view),
                name="{}_{}_import".format(*info),
            ),
            path(
                "<path:object_id>/export/",
                view(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_import": self._can_import(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _card(self, request, object_id) -> RateCard:
        card = get_object_or_404(
            RateCard.objects.select_related("company"), pk=object_id
        )
        if not self.has_view_permission(request, card):
            raise PermissionDenied
        return card

    def export_view(self, request, object_id):
        """Download the card's rates as CSV (the import format)."""
        card = self._card(request, object_id)
        owner = card.company.slug if card.company_id else "price-list"
        filename = f"rates-{slugify(owner)}-{card.currency}.csv"
        response = HttpResponse(
            rate_card_export(card=card), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def import_view(self, request, object_id):
        """Upload a CSV of new rates; on any error show them all, import nothing."""
        card = self._card(request, object_id)
        if not self._can_import(request):
            raise PermissionDenied
        errors: list[str] = []
        problem = ""
        if request.method == "POST":
            form = RateCardImportForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    created = rate_card_import(
                        card=card, text=form.text, actor=request.user
                    )
                except InvalidRateCard as exc:
                    problem, errors = exc.message, exc.errors
                else:
                    self.message_user(
                        request,
                        _(
                            "Imported %(n)d new rate(s) into %(card)s; rows already "
                            "on the card were skipped."
                        )
                        % {"n": created, "card": card},
                        messages.SUCCESS,
                    )
                    return redirect("admin:billing_ratecard_change", card.pk)
        else:
            form = RateCardImportForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": card,
            "title": _("Import rates into %(card)s") % {"card": card},
            "form": form,
            "problem": problem,
            "errors": errors,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/billing/ratecard/import.html", context)
