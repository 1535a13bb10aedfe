"""Invoices: read-only lines, the actions (recompute, finalize, mark paid,
void, issue a credit note) and the "Run billing for a month" button."""

from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ReadOnlyInline
from accounts.exceptions import DomainError

from .. import pdf, rules
from ..exceptions import MonthNotEnded
from ..forms.credit_notes import CreditNoteForm
from ..forms.invoices import InvoiceVoidForm, RunBillingForm
from ..models import DocumentEmail, Invoice, InvoiceLine
from ..money import money_text
from ..selectors import creditable_lines, invoice_issuer
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


def _day(value, zone) -> str:
    """The day of an instant in ``zone`` (the company's), e.g. "Oct. 31, 2026"."""
    return date_format(timezone.localtime(value, zone).date(), "DATE_FORMAT")


def _moment(value, company) -> str:
    if value is None:
        return "–"
    local = timezone.localtime(value, company.zone)
    return f"{date_format(local, 'DATETIME_FORMAT')} ({company.billing_timezone})"


# The billing details in the order an address is written; other keys follow.
_ADDRESS_KEYS = ("legal_name", "name", "address", "postal_code", "city", "country")


def _lines(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, dict):
        return [line for v in value.values() for line in _lines(v)]
    if isinstance(value, list | tuple):
        return [line for v in value for line in _lines(v)]
    return [line for line in str(value).splitlines() if line.strip()]


def _address(details: dict) -> str:
    """Billing details as an address block (name, lines, country, tax ID, email),
    whatever keys the invoice froze."""
    lines: list[str] = []
    for key in _ADDRESS_KEYS:
        lines.extend(_lines(details.get(key)))
    if details.get("tax_id"):
        lines.append(_("Tax ID: %(id)s") % {"id": details["tax_id"]})
    for key in ("email", "contact", "billing_email"):
        if details.get(key):
            lines.append(str(details[key]))
    shown = {*_ADDRESS_KEYS, "tax_id", "email", "contact", "billing_email"}
    for key, value in details.items():
        if key not in shown and value and key != "timezone":
            lines.append(f"{key.replace('_', ' ')}: {', '.join(_lines(value))}")
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))


class InvoiceLineInline(ReadOnlyInline):
    """The lines as the document prints them: quantity, unit price and amount in
    the currency (amounts to its minor unit)."""

    model = InvoiceLine
    fields = (
        "position",
        "kind",
        "description",
        "category",
        "market",
        "quantity_display",
        "unit_price_display",
        "amount_display",
        "original_month_display",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("market", "invoice")

    @admin.display(description=_("quantity"))
    def quantity_display(self, obj):
        return f"{obj.quantity.normalize():f}"

    @admin.display(description=_("unit price"))
    def unit_price_display(self, obj):
        # Rates have four places (C6); shown without trailing zeros beyond the unit.
        places = max(2, -obj.unit_price.normalize().as_tuple().exponent)
        return f"{obj.unit_price:.{places}f} {obj.invoice.currency}"

    @admin.display(description=_("amount"))
    def amount_display(self, obj):
        return money_text(obj.amount, obj.invoice.currency)

    @admin.display(description=_("carried over from"))
    def original_month_display(self, obj):
        return f"{obj.original_month:%Y-%m}" if obj.original_month else "–"


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
    # The page reads like the document: dates in the company's billing zone,
    # amounts to the currency's minor unit, the billing details as an address.
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "company",
                    "number_display",
                    "status_display",
                    "month_display",
                    "period_display",
                )
            },
        ),
        (
            _("Amounts"),
            {
                "fields": (
                    "currency",
                    "subtotal_display",
                    "tax_rate_display",
                    "tax_display",
                    "total_display",
                    "credits_display",
                    "free_templates",
                )
            },
        ),
        (_("Billed to"), {"fields": ("billing_details_display",)}),
        (_("Issued by"), {"fields": ("issuer_details_display",)}),
        (
            _("Dates (company time zone)"),
            {
                "fields": (
                    "created_at_display",
                    "computed_at_display",
                    "finalized_at_display",
                    "payment_terms_days",
                    "due_date",
                    "paid_at_display",
                    "voided_at_display",
                    "void_reason",
                )
            },
        ),
        (
            _("Documents and related"),
            {
                "fields": (
                    "pdf_link",
                    "credit_notes_links",
                    "emails_link",
                    "charges_link",
                    "disagreements_link",
                )
            },
        ),
    )
    readonly_fields = (
        "company",
        "currency",
        "free_templates",
        "void_reason",
        "number_display",
        "status_display",
        "month_display",
        "period_display",
        "subtotal_display",
        "tax_rate_display",
        "tax_display",
        "total_display",
        "credits_display",
        "billing_details_display",
        "issuer_details_display",
        "payment_terms_days",
        "due_date",
        "created_at_display",
        "computed_at_display",
        "finalized_at_display",
        "paid_at_display",
        "voided_at_display",
        "pdf_link",
        "emails_link",
        "charges_link",
        "credit_notes_links",
        "disagreements_link",
    )
    # The model fields shown through a display above (get_fieldsets adds any
    # other field, so every field of the invoice shows).
    DISPLAYED = {
        "number": "number_display",
        "status": "status_display",
        "month": "month_display",
        "period_start": "period_display",
        "period_end": "period_display",
        "subtotal": "subtotal_display",
        "tax_rate": "tax_rate_display",
        "tax": "tax_display",
        "total": "total_display",
        "billing_details": "billing_details_display",
        "issuer_details": "issuer_details_display",
        "created_at": "created_at_display",
        "computed_at": "computed_at_display",
        "finalized_at": "finalized_at_display",
        "paid_at": "paid_at_display",
        "voided_at": "voided_at_display",
    }

    def get_fieldsets(self, request, obj=None):
        """The grouped fields, then any other field of the model: every field shows."""
        listed = {f for _, opts in self.fieldsets for f in opts["fields"]}
        listed |= set(self.DISPLAYED)
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
        return date_format(obj.month, "YEAR_MONTH_FORMAT")

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, obj):
        return money_text(obj.total, obj.currency)

    @admin.display(description=_("number"))
    def number_display(self, obj):
        return obj.number or _("Draft: numbered when finalized")

    @admin.display(description=_("status"))
    def status_display(self, obj):
        zone = obj.company.zone
        if obj.status == Invoice.Status.PAID and obj.paid_at:
            return _("Paid on %(date)s") % {"date": _day(obj.paid_at, zone)}
        if obj.status == Invoice.Status.VOID:
            return _("Void: %(reason)s") % {"reason": obj.void_reason or "–"}
        return obj.get_status_display()

    @admin.display(description=_("period"))
    def period_display(self, obj):
        zone = obj.company.zone
        return _("%(first)s – %(last)s (%(zone)s)") % {
            "first": _day(obj.period_start, zone),
            "last": _day(obj.period_end - timedelta(seconds=1), zone),
            "zone": obj.company.billing_timezone,
        }

    @admin.display(description=_("subtotal"))
    def subtotal_display(self, obj):
        return money_text(obj.subtotal, obj.currency)

    @admin.display(description=_("tax rate"))
    def tax_rate_display(self, obj):
        return f"{(obj.tax_rate * 100).normalize():f} %"

    @admin.display(description=_("tax"))
    def tax_display(self, obj):
        return money_text(obj.tax, obj.currency)

    @admin.display(description=_("credits and amount due"))
    def credits_display(self, obj):
        if obj.status == Invoice.Status.DRAFT:
            return _("A draft: not due yet.")
        credits = [n.total for n in obj.credit_notes.all()]
        if obj.status == Invoice.Status.VOID:
            return _("Void: nothing is due.")
        due = rules.amount_due(total=obj.total, credits=credits)
        if not credits:
            return _("Amount due %(due)s (no credit note)") % {
                "due": money_text(due, obj.currency)
            }
        return _("Credits applied %(credits)s; amount due %(due)s") % {
            "credits": money_text(rules.invoice_total(credits), obj.currency),
            "due": money_text(due, obj.currency),
        }

    @admin.display(description=_("billing details"))
    def billing_details_display(self, obj):
        details = obj.billing_details or {}
        if not details:
            current = {
                "name": obj.company.name,
                "address": obj.company.billing_address,
                "country": obj.company.country,
                "email": obj.company.billing_email,
            }
            return format_html(
                "{}<address>{}</address>",
                _("Frozen at finalization; until then the company's current ones:"),
                _address(current),
            )
        return format_html("<address>{}</address>", _address(details))

    @admin.display(description=_("issuer"))
    def issuer_details_display(self, obj):
        """F7: the issuer frozen at finalization (a draft: the current one)."""
        return format_html("<address>{}</address>", _address(invoice_issuer(obj)))

    @admin.display(description=_("created"))
    def created_at_display(self, obj):
        return _moment(obj.created_at, obj.company)

    @admin.display(description=_("computed"))
    def computed_at_display(self, obj):
        return _moment(obj.computed_at, obj.company)

    @admin.display(description=_("finalized"))
    def finalized_at_display(self, obj):
        return _moment(obj.finalized_at, obj.company)

    @admin.display(description=_("paid"))
    def paid_at_display(self, obj):
        return _moment(obj.paid_at, obj.company)

    @admin.display(description=_("voided"))
    def voided_at_display(self, obj):
        return _moment(obj.voided_at, obj.company)

    @admin.display(description=_("PDF"))
    def pdf_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:billing_invoice_pdf", args=[obj.pk]),
            pdf.document_filename(obj),
        )

    @admin.display(description=_("emails"))
    def emails_link(self, obj):
        rows = list(obj.emails.filter(credit_note__isnull=True))
        if not rows:
            return _("Not emailed (emailed when finalized).")
        url = reverse("admin:billing_documentemail_changelist")
        sent = sum(r.status == DocumentEmail.Status.SENT for r in rows)
        return format_html(
            '<a href="{}?q={}">{}</a>',
            url,
            obj.number,
            _("%(sent)d of %(n)d billing contacts emailed")
            % {"sent": sent, "n": len(rows)},
        )

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
            mark_safe("<br>"),
            '<a href="{}">{}</a> ({}, {}) · <a href="{}">{}</a>',
            (
                (
                    reverse("admin:billing_creditnote_change", args=[n.pk]),
                    n.number,
                    money_text(n.total, n.currency),
                    _day(n.created_at, obj.company.zone),
                    reverse("admin:billing_creditnote_pdf", args=[n.pk]),
                    _("PDF"),
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
                # Service messages usually name the invoice already; one that
                # names the company gets only what the draft's label adds, so
                # nothing is named twice ("Draft of 2026-10: Acme has …").
                text = exc.message
                company = str(invoice.company)
                if text.startswith(label):
                    pass
                elif invoice.number is None and company in text:
                    text = _("Draft of %(month)s: %(message)s") % {
                        "month": f"{invoice.month:%Y-%m}",
                        "message": text,
                    }
                else:
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
            path(
                "<path:object_id>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="{}_{}_pdf".format(*info),
            ),
            path(
                "<path:object_id>/do/<slug:name>/",
                self.admin_site.admin_view(self.object_action_view),
                name="{}_{}_object_action".format(*info),
            ),
            *super().get_urls(),
        ]

    # --- the change page: the document, its PDF and its actions as buttons ---------

    # (action, label, permission, statuses it applies to, asks first)
    OBJECT_ACTIONS = (
        ("recompute", _("Recompute"), "change", (Invoice.Status.DRAFT,), False),
        ("finalize", _("Finalize"), "change", (Invoice.Status.DRAFT,), True),
        ("mark_paid", _("Mark paid"), "change", (Invoice.Status.FINALIZED,), True),
        ("void", _("Void…"), "change", (Invoice.Status.FINALIZED,), True),
        (
            "issue_credit_note",
            _("Issue a credit note…"),
            "add_creditnote",
            Invoice.CREDITABLE,
            True,
        ),
    )

    def _may(self, request, permission: str) -> bool:
        if permission == "add_creditnote":
            return self.has_add_creditnote_permission(request)
        return request.user.has_perm("billing.change_invoice")

    def _object_actions(self, request, invoice) -> list[dict]:
        return [
            {
                "name": name,
                "label": label,
                "url": reverse(
                    "admin:billing_invoice_object_action", args=[invoice.pk, name]
                ),
            }
            for name, label, permission, statuses, _asks in self.OBJECT_ACTIONS
            if invoice.status in statuses and self._may(request, permission)
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        invoice = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if invoice is not None:
            extra["invoice_actions"] = self._object_actions(request, invoice)
            extra["pdf_url"] = reverse("admin:billing_invoice_pdf", args=[invoice.pk])
        return super().change_view(request, object_id, form_url, extra)

    def pdf_view(self, request, object_id):
        """The invoice's PDF as the customer gets it, for Customer Success."""
        invoice = self.get_object(request, unquote(object_id))
        if invoice is None:
            raise Http404
        if not self.has_view_permission(request, invoice):
            raise PermissionDenied
        response = HttpResponse(
            pdf.invoice_pdf(invoice), content_type="application/pdf"
        )
        response["Content-Disposition"] = (
            f'inline; filename="{pdf.document_filename(invoice)}"'
        )
        return response

    def object_action_view(self, request, object_id, name):
        """A button of the change page: POST only, through the same action (and
        the same services) as the list; finalize, mark paid, void and credit
        notes first show their confirmation page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        invoice = self.get_object(request, unquote(object_id))
        if invoice is None:
            raise Http404
        known = {a[0]: a for a in self.OBJECT_ACTIONS}
        if name not in known:
            raise Http404
        _name, label, permission, _statuses, asks = known[name]
        if not self._may(request, permission):
            raise PermissionDenied
        queryset = Invoice.objects.filter(pk=invoice.pk)
        change = reverse("admin:billing_invoice_change", args=[invoice.pk])
        if name in ("void", "issue_credit_note"):
            response = getattr(self, name)(request, queryset)
            return response if response is not None else redirect(change)
        if asks and request.POST.get("post") != "yes":
            return self._confirmation(
                request,
                queryset,
                action=name,
                template="admin/billing/invoice/confirm.html",
                title=_("%(action)s %(invoice)s")
                % {"action": label, "invoice": invoice},
                question=self.CONFIRM_TEXT[name],
                submit_label=label,
            )
        getattr(self, name)(request, queryset)
        return redirect(change)

    CONFIRM_TEXT = {
        "finalize": _(
            "Finalizing recomputes the draft one last time, gives it the next "
            "invoice number and freezes it; it is then emailed with its PDF to the "
            "company's billing contacts. This cannot be undone."
        ),
        "mark_paid": _(
            "The invoice is marked paid now; a paid invoice can still be corrected "
            "by credit notes, not voided."
        ),
    }

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
