"""The billing admin for Customer Success.

Everything that changes billing goes through a service (rate card import,
invoice compute/finalize/pay/void, credit notes, billing runs); a refused
request (``DomainError``) is shown as an error and nothing changes. Facts
(markets, charges, invoices, credit notes) are never edited here.
"""

from datetime import date

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, DecimalField, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ReadOnlyInline, ViewOnlyAdmin
from accounts.exceptions import DomainError

from .exceptions import InvalidRateCard, MonthNotEnded
from .forms import (
    CreditNoteForm,
    InvoiceVoidForm,
    RateCardForm,
    RateCardImportForm,
    RunBillingForm,
)
from .models import (
    BillingRun,
    Charge,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Market,
    MarketPrefix,
    Rate,
    RateCard,
)
from .money import ZERO, quantize_money
from .rate_cards import rate_card_export, rate_card_import
from .runs import billing_run, run_summary
from .services import (
    credit_note_issue,
    invoice_compute,
    invoice_finalize,
    invoice_mark_paid,
    invoice_void,
)

# --- Shared --------------------------------------------------------------------------


def _money(amount, currency: str) -> str:
    if amount is None:
        return "–"
    return f"{quantize_money(amount, currency)} {currency}"


def _invoice_link(invoice: Invoice | None):
    if invoice is None:
        return "–"
    return format_html(
        '<a href="{}">{}</a>',
        reverse("admin:billing_invoice_change", args=[invoice.pk]),
        invoice,
    )


# --- Markets --------------------------------------------------------------------------


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


# --- Rate cards -----------------------------------------------------------------------


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


# --- Invoices --------------------------------------------------------------------------


class MonthFilter(admin.SimpleListFilter):
    title = _("month")
    parameter_name = "month"

    def lookups(self, request, model_admin):
        months = model_admin.get_queryset(request).dates("month", "month", "DESC")
        return [(f"{m:%Y-%m}", f"{m:%B %Y}") for m in months]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        try:
            year, month = (int(part) for part in value.split("-"))
            return queryset.filter(month=date(year, month, 1))
        except ValueError:
            return queryset.none()


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = (
        "position",
        "kind",
        "description",
        "category",
        "market",
        "quantity",
        "unit_price",
        "amount",
        "original_month",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("market")


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = (
        "number_or_draft",
        "company",
        "month_display",
        "status",
        "total_display",
        "finalized_at",
    )
    list_filter = ("status", MonthFilter, "company")
    list_select_related = ("company",)
    search_fields = ("number", "company__name", "company__slug")
    search_help_text = _("Invoice number or company.")
    inlines = [InvoiceLineInline]
    actions = [
        "recompute",
        "finalize",
        "mark_paid",
        "void",
        "issue_credit_note",
    ]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "company",
                    "month",
                    "status",
                    "number",
                    "period_start",
                    "period_end",
                )
            },
        ),
        (
            _("Amounts"),
            {"fields": ("currency", "tax_rate", "subtotal", "tax", "total")},
        ),
        (
            _("Lifecycle"),
            {
                "fields": (
                    "created_at",
                    "computed_at",
                    "finalized_at",
                    "paid_at",
                    "voided_at",
                    "void_reason",
                    "billing_details",
                )
            },
        ),
        (
            _("Related"),
            {"fields": ("charges_link", "credit_notes_links", "disagreements_link")},
        ),
    )
    readonly_fields = ("charges_link", "credit_notes_links", "disagreements_link")

    def get_fieldsets(self, request, obj=None):
        """The grouped fields, then any other field of the model: every field shows."""
        listed = {f for _, opts in self.fieldsets for f in opts["fields"]}
        others = tuple(
            f.name
            for f in self.opts.concrete_fields
            if f.editable and not f.primary_key and f.name not in listed
        )
        if not others:
            return self.fieldsets
        return (*self.fieldsets, (_("Other"), {"fields": others}))

    # Invoices are made by billing runs and changed only by the actions below.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The change permission runs the actions; the detail page stays read-only.
        return obj is None and request.user.has_perm("billing.change_invoice")

    def has_add_creditnote_permission(self, request):
        return request.user.has_perm("billing.add_creditnote")

    # --- columns and detail -------------------------------------------------------

    @admin.display(description=_("invoice"), ordering="number")
    def number_or_draft(self, obj):
        return obj.number or _("Draft")

    @admin.display(description=_("month"), ordering="month")
    def month_display(self, obj):
        return f"{obj.month:%Y-%m}"

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, obj):
        return _money(obj.total, obj.currency)

    @admin.display(description=_("charges"))
    def charges_link(self, obj):
        n = obj.charges.count()
        url = reverse("admin:billing_charge_changelist")
        return format_html(
            '<a href="{}?invoice={}">{}</a>',
            url,
            obj.pk,
            _("%(n)d delivered templates (charged and free) behind this invoice")
            % {"n": n},
        )

    @admin.display(description=_("credit notes"))
    def credit_notes_links(self, obj):
        notes = obj.credit_notes.order_by("created_at")
        if not notes:
            return "–"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a> ({})',
            (
                (
                    reverse("admin:billing_creditnote_change", args=[n.pk]),
                    n.number,
                    _money(n.total, n.currency),
                )
                for n in notes
            ),
        )

    @admin.display(description=_("pricing disagreements"))
    def disagreements_link(self, obj):
        from .admin_reconciliation import invoice_disagreements_link  # F4

        return invoice_disagreements_link(obj)

    # --- actions ---------------------------------------------------------------------

    def _each(self, request, queryset, call) -> None:
        """Run ``call(invoice) -> message`` per invoice; report each outcome."""
        for invoice in queryset.select_related("company").order_by("month", "pk"):
            label = str(invoice)
            try:
                text = call(invoice)
            except DomainError as exc:
                # Service messages usually name the invoice already.
                text = exc.message
                if not text.startswith(label):
                    text = f"{label}: {text}"
                self.message_user(request, text, messages.ERROR)
            else:
                self.message_user(request, f"{label}: {text}", messages.SUCCESS)

    @admin.action(
        description=_("Recompute the selected drafts"), permissions=["change"]
    )
    def recompute(self, request, queryset):
        def call(invoice):
            if invoice.is_frozen:
                raise DomainError(
                    f"it is {invoice.get_status_display().lower()}, and finalized "
                    "invoices never change; correct it with a credit note."
                )
            invoice = invoice_compute(company=invoice.company, month=invoice.month)
            return f"recomputed, total {_money(invoice.total, invoice.currency)}."

        self._each(request, queryset, call)

    @admin.action(description=_("Finalize the selected drafts"), permissions=["change"])
    def finalize(self, request, queryset):
        from .reconciliation import DisagreementsUnreviewed

        def call(invoice):
            try:
                invoice = invoice_finalize(invoice=invoice)
            except DisagreementsUnreviewed:
                # F4: keep the draft as the refused recompute saw it, so the
                # disagreements it found are listed for review.
                invoice_compute(company=invoice.company, month=invoice.month)
                raise
            return (
                f"finalized as {invoice.number}, total "
                f"{_money(invoice.total, invoice.currency)}."
            )

        self._each(request, queryset, call)

    @admin.action(
        description=_("Mark the selected invoices paid"), permissions=["change"]
    )
    def mark_paid(self, request, queryset):
        def call(invoice):
            invoice_mark_paid(invoice=invoice)
            return "marked paid."

        self._each(request, queryset, call)

    def _confirmation(self, request, queryset, *, action, template, title, **context):
        invoices = list(queryset.select_related("company").order_by("month", "pk"))
        for invoice in invoices:
            invoice.total_display = _money(invoice.total, invoice.currency)
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "invoices": invoices,
                "selected": invoices,
                "action": action,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "has_view_permission": True,
                **context,
            },
        )

    @admin.action(description=_("Void the selected invoices…"), permissions=["change"])
    def void(self, request, queryset):
        if request.POST.get("post") == "yes":
            form = InvoiceVoidForm(request.POST)
            if form.is_valid():
                reason = form.cleaned_data["reason"]

                def call(invoice):
                    invoice_void(invoice=invoice, reason=reason)
                    return f"voided ({reason}); it keeps its number."

                self._each(request, queryset, call)
                return None
        else:
            form = InvoiceVoidForm()
        return self._confirmation(
            request,
            queryset,
            action="void",
            template="admin/billing/invoice/void.html",
            title=_("Void invoices"),
            form=form,
        )

    @admin.action(
        description=_("Issue a credit note for the selected invoice…"),
        permissions=["add_creditnote"],
    )
    def issue_credit_note(self, request, queryset):
        invoices = list(queryset.select_related("company")[:2])
        if len(invoices) != 1:
            self.message_user(
                request,
                _("Select exactly one invoice to credit; nothing was issued."),
                messages.ERROR,
            )
            return None
        (invoice,) = invoices
        if invoice.status not in (Invoice.Status.FINALIZED, Invoice.Status.PAID):
            self.message_user(
                request,
                _(
                    "%(invoice)s is %(status)s: only finalized or paid invoices are "
                    "corrected by credit notes. Nothing was issued."
                )
                % {"invoice": invoice, "status": invoice.get_status_display().lower()},
                messages.ERROR,
            )
            return None
        zero = Value(ZERO, output_field=DecimalField())
        lines = list(
            invoice.lines.exclude(kind=InvoiceLine.Kind.TAX)
            .annotate(credited=Coalesce(Sum("credits__amount"), zero))
            .order_by("position", "pk")
        )
        for line in lines:
            line.left = line.amount - line.credited
            for name in ("amount", "credited", "left"):
                value = getattr(line, name)
                setattr(line, f"{name}_display", _money(value, invoice.currency))
        posted = request.POST.get("post") == "yes"
        form = CreditNoteForm(
            request.POST if posted else None, lines=lines, currency=invoice.currency
        )
        if posted and form.is_valid():
            try:
                note = credit_note_issue(
                    invoice=invoice,
                    amounts=form.amounts,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(None, f"{exc.message} Nothing was issued.")
            else:
                self.message_user(
                    request,
                    _(
                        "%(invoice)s: credit note %(number)s issued, %(subtotal)s + "
                        "tax %(tax)s = %(total)s."
                    )
                    % {
                        "invoice": invoice,
                        "number": note.number,
                        "subtotal": _money(note.subtotal, note.currency),
                        "tax": _money(note.tax, note.currency),
                        "total": _money(note.total, note.currency),
                    },
                    messages.SUCCESS,
                )
                return None
        return self._confirmation(
            request,
            queryset,
            action="issue_credit_note",
            template="admin/billing/invoice/credit_note.html",
            title=_("Credit note for %(invoice)s") % {"invoice": invoice},
            invoice=invoice,
            tax_percent=f"{invoice.tax_rate * 100:.2f} %",
            form=form,
        )

    # --- the billing run button ---------------------------------------------------

    def _can_run_billing(self, request) -> bool:
        return request.user.has_perm("billing.change_invoice")

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "run-billing/",
                self.admin_site.admin_view(self.run_billing_view),
                name="{}_{}_run_billing".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_run_billing": self._can_run_billing(request),
        }
        return super().changelist_view(request, extra_context)

    def run_billing_view(self, request):
        """Run billing for a month now, with the same code as ``run_billing``."""
        if not self._can_run_billing(request):
            raise PermissionDenied
        results = None
        if request.method == "POST":
            form = RunBillingForm(request.POST)
            if form.is_valid():
                try:
                    results = billing_run(
                        month=form.cleaned_data["month"],
                        company=form.cleaned_data["company"],
                        finalize=form.cleaned_data["finalize"],
                        triggered_by=f"admin: {request.user.email}",
                    )
                except MonthNotEnded as exc:
                    form.add_error("month", exc.message)
                else:
                    ok = all(r.ok for r in results)
                    self.message_user(
                        request,
                        run_summary(results)
                        + ("." if ok else _("; see the errors below.")),
                        messages.SUCCESS if ok else messages.ERROR,
                    )
        else:
            form = RunBillingForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Run billing for a month"),
            "form": form,
            "results": results,
            "has_view_permission": True,
        }
        return TemplateResponse(
            request, "admin/billing/invoice/run_billing.html", context
        )


# --- Charges ---------------------------------------------------------------------------


class ChargeInvoiceFilter(admin.SimpleListFilter):
    """Filter by invoice without listing every invoice: the link from an invoice
    selects it, and "not invoiced yet" finds charges waiting for a run."""

    title = _("invoice")
    parameter_name = "invoice"
    NONE = "none"

    def lookups(self, request, model_admin):
        choices = [(self.NONE, _("Not invoiced yet"))]
        value = self.value()
        if value and value.isdigit():
            invoice = Invoice.objects.select_related("company").filter(pk=value).first()
            if invoice is not None:
                choices.append((value, str(invoice)))
        return choices

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.NONE:
            return queryset.filter(invoice__isnull=True)
        if value:
            return (
                queryset.filter(invoice_id=value)
                if value.isdigit()
                else queryset.none()
            )
        return queryset


@admin.register(Charge)
class ChargeAdmin(ViewOnlyAdmin):
    list_display = (
        "delivered_at",
        "company",
        "category",
        "market",
        "billable",
        "reason",
        "rate",
        "amount",
        "currency",
        "invoice_link",
    )
    list_filter = (
        "billable",
        "category",
        "reason",
        "policy",
        "market",
        "company",
        ChargeInvoiceFilter,
    )
    list_select_related = ("company", "market", "invoice", "invoice__company")
    search_fields = ("=message__wamid",)
    search_help_text = _("The exact WhatsApp message id (wamid.…).")
    show_full_result_count = False
    fields = (
        "message",
        "company",
        "category",
        "market",
        "delivered_at",
        "billable",
        "reason",
        "rate",
        "amount",
        "currency",
        "window_message",
        "window_opened_at",
        "policy",
        "entry_point_message",
        "entry_point_opened_at",
        "tier",
        "invoice_link",
        "created_at",
    )
    readonly_fields = ("invoice_link",)

    @admin.display(description=_("invoice"), ordering="invoice")
    def invoice_link(self, obj):
        return _invoice_link(obj.invoice)


# --- Credit notes ---------------------------------------------------------------------


class CreditNoteLineInline(ReadOnlyInline):
    model = CreditNoteLine
    fields = ("invoice_line", "description", "amount")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice_line")


@admin.register(CreditNote)
class CreditNoteAdmin(ViewOnlyAdmin):
    """Issued from an invoice (its "Issue a credit note" action), never edited."""

    list_display = (
        "number",
        "invoice_link",
        "company",
        "subtotal",
        "tax",
        "total",
        "currency",
        "created_by",
        "created_at",
    )
    list_select_related = ("invoice", "invoice__company", "created_by")
    list_filter = ("currency",)
    search_fields = ("number", "invoice__number", "invoice__company__name")
    fields = (
        "number",
        "invoice_link",
        "reason",
        "currency",
        "subtotal",
        "tax",
        "total",
        "created_by",
        "created_at",
    )
    readonly_fields = ("invoice_link",)
    inlines = [CreditNoteLineInline]

    @admin.display(description=_("invoice"), ordering="invoice__number")
    def invoice_link(self, obj):
        return _invoice_link(obj.invoice)

    @admin.display(description=_("company"), ordering="invoice__company__name")
    def company(self, obj):
        return obj.invoice.company


# --- Billing runs ----------------------------------------------------------------------


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


# --- Spend alerts ------------------------------------------------------------------

from django import forms  # noqa: E402 - the spend alert section's own imports

from .alerts import InvalidBudget, budget_set, budget_validate_amount  # noqa: E402
from .models import MonthlyBudget, SpendAlert  # noqa: E402


class MonthlyBudgetForm(forms.ModelForm):
    class Meta:
        model = MonthlyBudget
        fields = ("company", "amount")
        help_texts = {
            "amount": _(
                "In the company's billing currency, tax included. Empty: no budget "
                "and no spend alerts."
            )
        }

    def clean(self):
        cleaned = super().clean()
        company = cleaned.get("company") or getattr(self.instance, "company", None)
        amount = cleaned.get("amount")
        if company is not None and amount is not None:
            try:
                budget_validate_amount(amount=amount, currency=company.billing_currency)
            except InvalidBudget as exc:
                self.add_error("amount", exc.message)
        return cleaned


@admin.register(MonthlyBudget)
class MonthlyBudgetAdmin(admin.ModelAdmin):
    """Budgets are set by company admins in the portal, or here by Customer Success,
    through the same service; alerts already sent this month are never re-sent."""

    form = MonthlyBudgetForm
    list_display = ("company", "amount_display", "updated_by", "updated_at")
    list_select_related = ("company", "updated_by")
    list_filter = (("amount", admin.EmptyFieldListFilter),)
    search_fields = ("company__name", "company__slug")
    autocomplete_fields = ("company",)

    def get_readonly_fields(self, request, obj=None):
        # A budget belongs to its company for good; the currency is the company's.
        fixed = ("currency", "updated_by", "updated_at")
        return ("company", *fixed) if obj else fixed

    def has_delete_permission(self, request, obj=None):
        return False  # empty the amount instead: who cleared it stays known

    def save_model(self, request, obj, form, change):
        budget = budget_set(company=obj.company, amount=obj.amount, actor=request.user)
        for field in ("pk", "amount", "currency", "updated_by", "updated_at"):
            setattr(obj, field, getattr(budget, field))

    @admin.display(description=_("monthly budget"), ordering="amount")
    def amount_display(self, obj):
        return _money(obj.amount, obj.currency) if obj.amount is not None else "–"


@admin.register(SpendAlert)
class SpendAlertAdmin(ViewOnlyAdmin):
    """Every budget threshold crossed and who was emailed: history, view only."""

    list_display = (
        "company",
        "month_display",
        "threshold_display",
        "spent_display",
        "budget_display",
        "sent_at",
        "email_status",
    )
    list_filter = ("threshold", MonthFilter, "company")
    list_select_related = ("company",)
    search_fields = ("company__name", "company__slug")
    fields = (
        "company",
        "month",
        "threshold",
        "spent",
        "budget",
        "currency",
        "sent_at",
        "recipients",
        "email_error",
    )

    @admin.display(description=_("month"), ordering="month")
    def month_display(self, obj):
        return f"{obj.month:%Y-%m}"

    @admin.display(description=_("threshold"), ordering="threshold")
    def threshold_display(self, obj):
        return f"{obj.threshold} %"

    @admin.display(description=_("spent"), ordering="spent")
    def spent_display(self, obj):
        return _money(obj.spent, obj.currency)

    @admin.display(description=_("budget"), ordering="budget")
    def budget_display(self, obj):
        return _money(obj.budget, obj.currency)

    @admin.display(description=_("email"))
    def email_status(self, obj):
        if obj.email_error:
            return format_html('<span class="error-text">{}</span>', obj.email_error)
        if not obj.recipients:
            return _("no company admin to email")
        return ", ".join(obj.recipients)


from . import admin_pricing  # noqa: E402, F401 - charge policies and volume tiers
from .admin_reconciliation import PricingDisagreementAdmin  # noqa: E402, F401 - F4
