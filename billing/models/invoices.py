"""Invoices and their lines (D1, D2), gapless document sequences, billing runs (D3)."""

from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company

from ..money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from .markets import Market


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        FINALIZED = "finalized", _("Finalized")
        PAID = "paid", _("Paid")
        VOID = "void", _("Void")

    FROZEN = (Status.FINALIZED, Status.PAID, Status.VOID)
    # D2: the invoices a credit note may correct.
    CREDITABLE = (Status.FINALIZED, Status.PAID)

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="invoices"
    )
    # First day of the billing month in the company's billing time zone (C7).
    month = models.DateField(_("month"))
    # The month as UTC instants [period_start, period_end).
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=Status.choices,
        default=Status.DRAFT,
        db_index=True,
    )
    # Assigned only at finalization, from a gapless sequence (D2).
    number = models.CharField(
        _("number"), max_length=32, unique=True, null=True, blank=True
    )  # noqa: DJ001
    currency = models.CharField(max_length=3)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0"))
    subtotal = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        default=Decimal("0"),
    )
    tax = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        default=Decimal("0"),
    )
    total = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        default=Decimal("0"),
    )
    # Delivered templates on this invoice that were free (D4), counted at compute.
    free_templates = models.PositiveIntegerField(default=0)
    # Company billing details as of finalization, so later edits don't change it.
    billing_details = models.JSONField(default=dict, blank=True)
    # The issuer as of finalization (F7): legal name, address, tax ID, payment details.
    issuer_details = models.JSONField(default=dict, blank=True)
    # F7: set at finalization, the issue date (company zone) plus the payment terms.
    payment_terms_days = models.PositiveSmallIntegerField(null=True, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-month", "company__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "month"], name="invoice_one_per_month"
            ),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(number__isnull=False),
                name="invoice_number_once_finalized",
            ),
        ]
        indexes = [models.Index(fields=["company", "-month"])]

    def __str__(self) -> str:
        return self.number or f"Draft {self.company} {self.month:%Y-%m}"

    @property
    def is_frozen(self) -> bool:
        return self.status in self.FROZEN

    @property
    def is_creditable(self) -> bool:
        return self.status in self.CREDITABLE


class InvoiceLine(models.Model):
    class Kind(models.TextChoices):
        LICENSE = "license", _("Licenses")
        USAGE = "usage", _("Usage")
        CARRIED_OVER = "carried_over", _("Usage carried over")
        TAX = "tax", _("Tax")

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=500)
    category = models.CharField(max_length=20, blank=True)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, null=True, blank=True)
    # Usage: messages. License: license-days. Tax: 1.
    quantity = models.DecimalField(
        max_digits=16, decimal_places=4, default=Decimal("0")
    )
    unit_price = models.DecimalField(
        max_digits=16, decimal_places=6, default=Decimal("0")
    )
    # Rounded half-up to the currency's minor unit (D1).
    amount = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    # Carried-over lines: the month the charges were delivered in (C7).
    original_month = models.DateField(null=True, blank=True)
    # License line: the proration, e.g. [{"count": 5, "days": 20, "price": "15.00"}].
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["invoice", "position", "id"]

    def __str__(self) -> str:
        return self.description


class DocumentSequence(models.Model):
    """A gapless counter per document kind and year, taken under a row lock."""

    kind = models.CharField(max_length=10)  # "INV" or "CN"
    year = models.PositiveIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "year"], name="documentsequence_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}-{self.year}: {self.last_number}"


class BillingRun(models.Model):
    """One month run (Celery or command): what it did, for Customer Success."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed with errors")

    month = models.DateField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    companies = models.PositiveIntegerField(default=0)
    triggered_by = models.CharField(max_length=200, blank=True)
    log = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Run {self.month:%Y-%m} ({self.status})"
