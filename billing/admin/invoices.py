"""Invoices: read-only lines, the actions (recompute, finalize, mark paid,
void, issue a credit note) and the "Run billing for a month" button."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ReadOnlyInline
from accounts.exceptions import DomainError

from ..exceptions import MonthNotEnded
from ..forms.credit_notes import CreditNoteForm
from ..forms.invoices import InvoiceVoidForm, RunBillingForm
from ..models import Invoice, InvoiceLine
from ..money import money_text
from ..selectors import creditable_lines
from ..services import (
    credit_note_issue,
    invoice_finalize,
    invoice_mark_paid,
    invoice_recompute,
    invoice_void,
)
from ..services.runs import billing_run, run_summary
from .base import MonthFilter
from .reconciliation import invoice_disagreements_link


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
        return money_text(obj.total, obj.currency)

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
                    money_text(n.total, n.currency),
                )
                for n in notes
            ),
        )

    @admin.display(description=_("pricing disagreements"))
    def disagreements_link(self, obj):
        return invoice_disagreements_link(obj)  # F4

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
            invoice = invoice_recompute(invoice=invoice)
            return f"recomputed, total {money_text(invoice.total, invoice.currency)}."

        self._each(request, queryset, call)

    @admin.action(description=_("Finalize the selected drafts"), permissions=["change"])
    def finalize(self, request, queryset):
        def call(invoice):
            invoice = invoice_finalize(invoice=invoice)
            return (
                f"finalized as {invoice.number}, total "
                f"{money_text(invoice.total, invoice.currency)}."
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
            invoice.total_display = money_text(invoice.total, invoice.currency)
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
        if not invoice.is_creditable:
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
        lines = list(creditable_lines(invoice=invoice))
        for line in lines:
            for name in ("amount", "credited", "left"):
                value = getattr(line, name)
                setattr(line, f"{name}_display", money_text(value, invoice.currency))
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
                        "subtotal": money_text(note.subtotal, note.currency),
                        "tax": money_text(note.tax, note.currency),
                        "total": money_text(note.total, note.currency),
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
