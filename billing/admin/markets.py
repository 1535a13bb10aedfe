"""Markets and their calling code prefixes: facts, view only."""

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ReadOnlyInline, ViewOnlyAdmin

from ..models import Market, MarketPrefix


class MarketPrefixInline(ReadOnlyInline):
    model = MarketPrefix
    fields = ("prefix", "country", "effective_from", "effective_until")
    readonly_fields = fields


@admin.register(Market)
class MarketAdmin(ViewOnlyAdmin):
    list_display = ("name", "prefix_count")
    search_fields = ("name",)
    inlines = [MarketPrefixInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(prefix_count=Count("prefixes"))

    @admin.display(description=_("calling code prefixes"), ordering="prefix_count")
    def prefix_count(self, obj):
        return obj.prefix_count


@admin.register(MarketPrefix)
class MarketPrefixAdmin(ViewOnlyAdmin):
    list_display = (
        "calling_code",
        "country",
        "market",
        "effective_from",
        "effective_until",
    )
    list_filter = ("market",)
    list_select_related = ("market",)
    search_fields = ("prefix", "country")
    search_help_text = _("Calling code (with or without +) or country.")

    @admin.display(description=_("calling code"), ordering="prefix")
    def calling_code(self, obj):
        return f"+{obj.prefix}"

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(
            request, queryset, search_term.strip().lstrip("+")
        )
