"""The portal's table of pricing disagreements with the provider (F4)."""

import django_tables2 as tables
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import PricingDisagreement
from ..templatetags.billing_tags import category_label, in_zone


def verdict_text(billable: bool, category: str) -> str:
    """Return "Charged, Marketing" or "Free, Service" in the reader's language."""
    return _("%(verdict)s, %(category)s") % {
        "verdict": _("Charged") if billable else _("Free"),
        "category": category_label(category) if category else "—",
    }


class DisagreementTable(tables.Table):
    delivered_at = tables.Column(verbose_name=_("Delivered"))
    contact = tables.Column(verbose_name=_("Contact"), empty_values=(), orderable=False)
    template = tables.Column(
        verbose_name=_("Template"), empty_values=(), orderable=False
    )
    ours = tables.Column(verbose_name=_("Ours"), empty_values=(), orderable=False)
    provider = tables.Column(
        verbose_name=_("Provider's"), empty_values=(), orderable=False
    )
    kind = tables.Column(verbose_name=_("Difference"))
    status = tables.Column(
        verbose_name=_("Status"), empty_values=(), order_by=("reviewed_at",)
    )

    class Meta:
        model = PricingDisagreement
        fields = (
            "delivered_at",
            "contact",
            "template",
            "ours",
            "provider",
            "kind",
            "status",
        )
        attrs = {"class": "table table-sm align-middle"}
        empty_text = _(
            "No differences: the provider's pricing agrees with ours for every "
            "delivered message."
        )

    def __init__(self, *args, zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone

    def render_delivered_at(self, value):
        return in_zone(value, self.zone).strftime("%Y-%m-%d %H:%M")

    def render_contact(self, record):
        return record.message.conversation.contact.masked_number

    def render_template(self, record):
        if record.message.template_id:
            return record.message.template.name
        return _("Free-form message")

    def render_ours(self, record):
        return verdict_text(record.ours_billable, record.ours_category)

    def render_provider(self, record):
        return verdict_text(record.provider_billable, record.provider_category)

    def render_kind(self, record):
        return record.get_kind_display()

    def render_status(self, record):
        if record.reviewed_at is None:
            return format_html(
                '<span class="badge text-bg-warning">{}</span>', _("Being reviewed")
            )
        return format_html(
            '<span class="badge text-bg-success">{}</span>',
            _("Reviewed %(date)s")
            % {"date": date_format(in_zone(record.reviewed_at, self.zone))},
        )
