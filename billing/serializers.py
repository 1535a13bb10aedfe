"""JSON API serializers of billing: reads only.

Money is a string in the currency's minor unit ("18.37", D1) next to a
``currency`` field; rates keep their four decimal places (C6); datetimes are
ISO 8601 in UTC.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import rules
from .models import Charge, CreditNote, CreditNoteLine, Invoice, InvoiceLine
from .money import RATE_DECIMAL_PLACES, quantize_money
from .selectors import reason_text


@extend_schema_field(
    {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "example": "18.37"}
)
class MoneyField(serializers.Field):
    """An amount rounded to its currency's minor unit, as a string.

    The currency is the object's own ``currency`` or, for lines, the
    ``currency`` of the serializer context (the invoice's)."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        currency = (
            instance.get("currency") if isinstance(instance, dict) else None
        ) or getattr(instance, "currency", None)
        currency = currency or self.context["currency"]
        return super().get_attribute(instance), currency

    def to_representation(self, value):
        amount, currency = value
        return str(quantize_money(amount, currency))


@extend_schema_field(
    {"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-10"}
)
class MonthField(serializers.Field):
    """A month as ``YYYY-MM``."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return f"{value:%Y-%m}"


def rate_field(**kwargs):
    return serializers.DecimalField(
        max_digits=12, decimal_places=RATE_DECIMAL_PLACES, read_only=True, **kwargs
    )


class InvoiceLineSerializer(serializers.ModelSerializer):
    market = serializers.CharField(
        source="market.name", read_only=True, allow_null=True, default=None
    )
    quantity = serializers.DecimalField(
        max_digits=16,
        decimal_places=4,
        read_only=True,
        help_text=_("Usage: messages. Licenses: license-days. Tax: 1."),
    )
    unit_price = serializers.DecimalField(
        max_digits=16, decimal_places=6, read_only=True
    )
    amount = MoneyField()
    original_month = MonthField(
        allow_null=True,
        help_text=_("Usage carried over: the month the messages were delivered in."),
    )
    category = serializers.CharField(read_only=True, allow_blank=True)

    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "kind",
            "description",
            "quantity",
            "unit_price",
            "amount",
            "category",
            "market",
            "original_month",
        ]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    month = MonthField()
    subtotal = MoneyField()
    tax = MoneyField()
    total = MoneyField()
    number = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text=_("Assigned when the invoice is finalized; null for drafts."),
    )

    due_date = serializers.DateField(
        read_only=True,
        allow_null=True,
        help_text=_(
            "The issue date in the company's time zone plus the payment terms; null for drafts."
        ),
    )
    payment_terms_days = serializers.IntegerField(read_only=True, allow_null=True)
    customer_status = serializers.ChoiceField(
        choices=["draft", "open", "overdue", "paid", "void"],
        read_only=True,
        help_text=_(
            "draft (an estimate, not yet due), open, overdue (unpaid after its due date), paid or void."
        ),
    )
    credits_applied = MoneyField(help_text=_("The credit notes issued on the invoice."))
    amount_paid = serializers.SerializerMethodField()
    amount_due = serializers.SerializerMethodField()
    void_reason = serializers.CharField(read_only=True, allow_blank=True)
    customer_tax_id = serializers.SerializerMethodField()
    issuer_tax_id = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "month",
            "status",
            "currency",
            "subtotal",
            "tax",
            "total",
            "period_start",
            "period_end",
            "free_templates",
            "finalized_at",
            "paid_at",
            "voided_at",
            "due_date",
            "payment_terms_days",
            "customer_status",
            "credits_applied",
            "amount_paid",
            "amount_due",
            "void_reason",
            "customer_tax_id",
            "issuer_tax_id",
        ]
        read_only_fields = fields

    def _balance(self, invoice: Invoice):
        return rules.invoice_balance(
            status=invoice.status,
            total=invoice.total,
            credits=[invoice.credits_applied],
        )

    @extend_schema_field(
        {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "example": "18.37"}
    )
    def get_amount_paid(self, invoice: Invoice) -> str:
        return str(quantize_money(self._balance(invoice).amount_paid, invoice.currency))

    @extend_schema_field(
        {
            "type": "string",
            "nullable": True,
            "pattern": r"^-?\d+(\.\d+)?$",
            "example": "18.37",
            "description": "What is left to pay; null for drafts and void invoices.",
        }
    )
    def get_amount_due(self, invoice: Invoice) -> str | None:
        due = self._balance(invoice).amount_due
        return None if due is None else str(quantize_money(due, invoice.currency))

    @extend_schema_field({"type": "string", "example": "ESB12345674"})
    def get_customer_tax_id(self, invoice: Invoice) -> str:
        """Frozen at finalization; a draft's is the company's current one."""
        if invoice.is_frozen and invoice.billing_details:
            return invoice.billing_details.get("tax_id", "")
        return invoice.company.tax_id

    @extend_schema_field({"type": "string", "example": "ESB12345674"})
    def get_issuer_tax_id(self, invoice: Invoice) -> str:
        if invoice.is_frozen and invoice.issuer_details.get("tax_id"):
            return invoice.issuer_details["tax_id"]
        return self.context["issuer"]["tax_id"]


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = serializers.SerializerMethodField()

    class Meta(InvoiceSerializer.Meta):
        fields = [*InvoiceSerializer.Meta.fields, "lines"]
        read_only_fields = fields

    @extend_schema_field(InvoiceLineSerializer(many=True))
    def get_lines(self, invoice: Invoice) -> list:
        return InvoiceLineSerializer(
            self.context["lines"],
            many=True,
            context={**self.context, "currency": invoice.currency},
        ).data


class ChargeSerializer(serializers.ModelSerializer):
    """D4: one delivered message behind a usage line, or free, with why."""

    message = serializers.IntegerField(source="message_id", read_only=True)
    wamid = serializers.CharField(source="message.wamid", read_only=True)
    market = serializers.CharField(source="market.name", read_only=True)
    rate = rate_field(allow_null=True)
    reason = serializers.SerializerMethodField(
        help_text=_("Why it was charged or free, in words.")
    )

    class Meta:
        model = Charge
        fields = [
            "id",
            "delivered_at",
            "message",
            "wamid",
            "category",
            "market",
            "rate",
            "currency",
            "billable",
            "reason",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_reason(self, charge: Charge) -> str:
        return reason_text(charge, self.context["zone"])


class CreditNoteLineSerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = CreditNoteLine
        fields = ["id", "invoice_line", "description", "amount"]
        read_only_fields = fields


class CreditNoteSerializer(serializers.ModelSerializer):
    lines = serializers.SerializerMethodField()
    subtotal = MoneyField()
    tax = MoneyField()
    total = MoneyField()

    class Meta:
        model = CreditNote
        fields = [
            "id",
            "number",
            "invoice",
            "reason",
            "lines",
            "subtotal",
            "tax",
            "total",
            "currency",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(CreditNoteLineSerializer(many=True))
    def get_lines(self, note: CreditNote) -> list:
        return CreditNoteLineSerializer(
            note.lines.all(),
            many=True,
            context={**self.context, "currency": note.currency},
        ).data


class UsageLineSerializer(InvoiceLineSerializer):
    id = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=_("Null: the lines of the month so far are not saved."),
    )


class UnpricedSerializer(serializers.Serializer):
    category = serializers.CharField(read_only=True)
    market = serializers.CharField(read_only=True)
    messages = serializers.IntegerField(read_only=True)


class UsageSerializer(serializers.Serializer):
    """The month so far: the same computation as the invoice, not saved."""

    month = MonthField(source="preview.invoice.month")
    lines = serializers.SerializerMethodField()
    subtotal = MoneyField(source="preview.invoice.subtotal")
    tax = MoneyField(source="preview.invoice.tax")
    total = MoneyField(source="preview.invoice.total")
    currency = serializers.CharField(source="preview.invoice.currency", read_only=True)
    as_of = serializers.DateTimeField(
        read_only=True, help_text=_("When the month so far was computed.")
    )
    unpriced = UnpricedSerializer(
        source="preview.unpriced",
        many=True,
        read_only=True,
        help_text=_(
            "Charged messages of a (category, market) without a rate yet (C6): "
            "not in the total; the invoice waits for the rate."
        ),
    )

    @extend_schema_field(UsageLineSerializer(many=True))
    def get_lines(self, usage: dict) -> list:
        preview = usage["preview"]
        return UsageLineSerializer(
            preview.lines,
            many=True,
            context={**self.context, "currency": preview.invoice.currency},
        ).data
