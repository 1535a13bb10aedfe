"""Billing: markets, rate cards, charges (one per delivered template), invoices,
credit notes and gapless document sequences.

Charges are derived from messaging facts by ``charges_sync`` and may be rebuilt
until the invoice that billed them is finalized; from then on they are frozen.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company, currency_validator
from messaging.models import Message, MessageTemplate

from .money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, RATE_DECIMAL_PLACES


class Market(models.Model):
    """A pricing market of the provider (a country or a group of countries)."""

    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("market")
        verbose_name_plural = _("markets")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MarketPrefix(models.Model):
    """A calling-code prefix (digits, e.g. 1809) belonging to a market, effective-dated.

    Markets move on the first day of a quarter: a new row with ``effective_from``
    and the old one closed with ``effective_until``.
    """

    market = models.ForeignKey(
        Market, on_delete=models.PROTECT, related_name="prefixes"
    )
    country = models.CharField(_("country"), max_length=100)
    prefix = models.CharField(_("calling code prefix"), max_length=8)
    effective_from = models.DateTimeField(_("effective from"))
    effective_until = models.DateTimeField(_("effective until"), null=True, blank=True)

    class Meta:
        verbose_name = _("market prefix")
        verbose_name_plural = _("market prefixes")
        ordering = ["prefix", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["prefix", "country", "effective_from"],
                name="marketprefix_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(prefix__regex=r"^[0-9]+$"),
                name="marketprefix_digits",
            ),
        ]

    def __str__(self) -> str:
        return f"+{self.prefix} {self.country} → {self.market}"


class RateCard(models.Model):
    """Per-message rates in one currency: a company's negotiated card, or (no
    company) the price list default used for every rate a company card lacks."""

    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        related_name="rate_cards",
        null=True,
        blank=True,
        help_text=_("Empty: the price list default for the currency."),
    )
    currency = models.CharField(
        _("currency"), max_length=3, validators=[currency_validator]
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("rate card")
        verbose_name_plural = _("rate cards")
        ordering = ["company__name", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "currency"],
                condition=models.Q(company__isnull=False),
                name="ratecard_one_per_company_currency",
            ),
            models.UniqueConstraint(
                fields=["currency"],
                condition=models.Q(company__isnull=True),
                name="ratecard_one_default_per_currency",
            ),
        ]

    def __str__(self) -> str:
        owner = self.company.name if self.company_id else _("Price list")
        return self.name or f"{owner} ({self.currency})"


class Rate(models.Model):
    """C6: the price of one charged message of a category in a market, from a date."""

    card = models.ForeignKey(RateCard, on_delete=models.PROTECT, related_name="rates")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    category = models.CharField(
        _("category"), max_length=20, choices=MessageTemplate.Category.choices
    )
    rate = models.DecimalField(
        _("rate"),
        max_digits=12,
        decimal_places=RATE_DECIMAL_PLACES,
        validators=[MinValueValidator(Decimal("0"))],
    )
    effective_from = models.DateTimeField(_("effective from"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("rate")
        verbose_name_plural = _("rates")
        ordering = ["card", "market__name", "category", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["card", "market", "category", "effective_from"],
                name="rate_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(rate__gte=0), name="rate_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["market", "category", "card", "effective_from"])
        ]

    def __str__(self) -> str:
        return f"{self.market} {self.category} {self.rate} from {self.effective_from:%Y-%m-%d}"


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        FINALIZED = "finalized", _("Finalized")
        PAID = "paid", _("Paid")
        VOID = "void", _("Void")

    FROZEN = (Status.FINALIZED, Status.PAID, Status.VOID)

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


class ChargeCategory(models.TextChoices):
    """What a delivered outbound message is billed as: its template's category,
    or "service" for a free-form message (C5; charged only under a policy, F1)."""

    MARKETING = "marketing", _("Marketing")
    UTILITY = "utility", _("Utility")
    AUTHENTICATION = "authentication", _("Authentication")
    SERVICE = "service", _("Service (free-form)")


class ChargePolicy(models.Model):
    """F1: which categories are charged inside and outside the customer service
    window. Data, not code: Customer Success creates policies and puts companies
    on them from a date (``ChargePolicyAssignment``)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    marketing_in_window = models.BooleanField(
        _("marketing charged inside the window"), default=True
    )
    marketing_outside_window = models.BooleanField(
        _("marketing charged outside the window"), default=True
    )
    utility_in_window = models.BooleanField(
        _("utility charged inside the window"), default=False
    )
    utility_outside_window = models.BooleanField(
        _("utility charged outside the window"), default=True
    )
    authentication_in_window = models.BooleanField(
        _("authentication charged inside the window"), default=True
    )
    authentication_outside_window = models.BooleanField(
        _("authentication charged outside the window"), default=True
    )
    # Free-form messages can only be sent inside the window (B3).
    service_in_window = models.BooleanField(
        _("free-form (service) charged inside the window"), default=False
    )
    # The rate card category a charged free-form message is priced at (C6).
    service_rate_category = models.CharField(
        _("rate for charged free-form messages"),
        max_length=20,
        choices=MessageTemplate.Category.choices,
        default=MessageTemplate.Category.UTILITY,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("charge policy")
        verbose_name_plural = _("charge policies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChargePolicyAssignment(models.Model):
    """F1: a policy in force for a company (or, with no company, for every company
    without its own) from an instant until the next assignment."""

    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        related_name="charge_policies",
        null=True,
        blank=True,
        help_text=_("Empty: the default for every company without its own policy."),
    )
    policy = models.ForeignKey(
        ChargePolicy,
        verbose_name=_("policy"),
        on_delete=models.PROTECT,
        related_name="assignments",
    )
    effective_from = models.DateTimeField(_("effective from"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("charge policy assignment")
        verbose_name_plural = _("charge policy assignments")
        ordering = ["company__name", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "effective_from"],
                condition=models.Q(company__isnull=False),
                name="chargepolicyassignment_one_per_instant",
            ),
            models.UniqueConstraint(
                fields=["effective_from"],
                condition=models.Q(company__isnull=True),
                name="chargepolicyassignment_default_one_per_instant",
            ),
        ]

    def __str__(self) -> str:
        owner = self.company.name if self.company_id else _("Every company")
        return f"{owner}: {self.policy} from {self.effective_from:%Y-%m-%d %H:%M}"


class VolumeTier(models.Model):
    """F3: a graduated rate for utility or authentication templates charged to a
    company in a market: from the ``from_message``-th charged message of the
    month on (company time zone), until the next tier. Messages before the
    first tier are priced by the rate card. A set of tiers applies from the
    month ``effective_from`` until a later set."""

    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        related_name="volume_tiers",
    )
    market = models.ForeignKey(
        Market, verbose_name=_("market"), on_delete=models.PROTECT, related_name="+"
    )
    category = models.CharField(
        _("category"),
        max_length=20,
        choices=[
            (MessageTemplate.Category.UTILITY, _("Utility")),
            (MessageTemplate.Category.AUTHENTICATION, _("Authentication")),
        ],
    )
    currency = models.CharField(
        _("currency"), max_length=3, validators=[currency_validator]
    )
    from_message = models.PositiveIntegerField(
        _("from message number"), validators=[MinValueValidator(1)]
    )
    rate = models.DecimalField(
        _("rate"),
        max_digits=12,
        decimal_places=RATE_DECIMAL_PLACES,
        validators=[MinValueValidator(Decimal("0"))],
    )
    # The first day of the first month the tier set applies to.
    effective_from = models.DateField(_("effective from month"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("volume tier")
        verbose_name_plural = _("volume tiers")
        ordering = [
            "company__name",
            "market__name",
            "category",
            "effective_from",
            "from_message",
        ]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "company",
                    "market",
                    "category",
                    "effective_from",
                    "from_message",
                ],
                name="volumetier_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(from_message__gte=1), name="volumetier_from_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(rate__gte=0), name="volumetier_rate_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(category__in=["utility", "authentication"]),
                name="volumetier_category",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.company} {self.market} {self.category} from #{self.from_message}: "
            f"{self.rate} {self.currency} ({self.effective_from:%Y-%m})"
        )


class Charge(models.Model):
    """One delivered outbound message's usage record (C1-C7, F1-F3): every
    template, billable or free with why, and free-form messages a policy charges."""

    message = models.OneToOneField(
        Message, on_delete=models.PROTECT, related_name="charge"
    )
    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="charges"
    )
    category = models.CharField(max_length=20, choices=ChargeCategory.choices)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    delivered_at = models.DateTimeField()
    billable = models.BooleanField()
    reason = models.CharField(max_length=40)
    # The rate in force at delivery (C6); empty when no card has one (blocks the invoice).
    rate = models.DecimalField(
        max_digits=12, decimal_places=RATE_DECIMAL_PLACES, null=True, blank=True
    )
    amount = models.DecimalField(
        max_digits=12, decimal_places=RATE_DECIMAL_PLACES, null=True, blank=True
    )
    currency = models.CharField(max_length=3)
    # Free utility: the inbound message whose window was open at delivery (D4).
    window_message = models.ForeignKey(
        Message, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    window_opened_at = models.DateTimeField(null=True, blank=True)
    # F1: the policy in force at delivery (empty: the contract's rules, no policy set).
    policy = models.ForeignKey(
        ChargePolicy, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # F2: the ad-referred inbound message whose free entry point window (opened by
    # the business's answer at entry_point_opened_at) covered the delivery.
    entry_point_message = models.ForeignKey(
        Message, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entry_point_opened_at = models.DateTimeField(null=True, blank=True)
    # F3: the volume tier whose rate applies (empty: the rate card's).
    tier = models.ForeignKey(
        VolumeTier, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The invoice that bills it; frozen once that invoice is finalized.
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="charges"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("charge")
        verbose_name_plural = _("charges")
        ordering = ["delivered_at", "id"]
        indexes = [
            models.Index(fields=["company", "delivered_at"]),
            models.Index(fields=["invoice", "billable", "category", "market"]),
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.market} {self.amount or 0} {self.currency}"


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


class CreditNote(models.Model):
    """A correction of a finalized invoice (D2); it never edits the invoice."""

    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="credit_notes"
    )
    number = models.CharField(max_length=32, unique=True)
    reason = models.CharField(max_length=500)
    currency = models.CharField(max_length=3)
    # Credited amounts are positive; the tax credited follows the invoice's rate.
    subtotal = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    tax = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    total = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("credit note")
        verbose_name_plural = _("credit notes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number


class CreditNoteLine(models.Model):
    credit_note = models.ForeignKey(
        CreditNote, on_delete=models.CASCADE, related_name="lines"
    )
    invoice_line = models.ForeignKey(
        InvoiceLine, on_delete=models.PROTECT, related_name="credits"
    )
    description = models.CharField(max_length=500)
    amount = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )

    class Meta:
        ordering = ["credit_note", "id"]

    def __str__(self) -> str:
        return self.description


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


# --- Spend alerts ------------------------------------------------------------------

from .alert_rules import THRESHOLDS  # noqa: E402 - the spend alert section's rules


class MonthlyBudget(models.Model):
    """A company's monthly spend budget: its admins get an email when the month so
    far reaches 50 %, 80 % and 100 % of it (billing.alert_rules)."""

    company = models.OneToOneField(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        related_name="monthly_budget",
    )
    # Empty: no budget, no alerts. Kept (not deleted) so who cleared it stays known.
    # Compared with the invoice total (tax included) of the month so far.
    amount = models.DecimalField(
        _("monthly budget"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    # The company's billing currency when the budget was set; a budget in another
    # currency than the invoices (the company's currency changed) alerts nobody.
    currency = models.CharField(
        _("currency"), max_length=3, validators=[currency_validator]
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("monthly budget")
        verbose_name_plural = _("monthly budgets")
        ordering = ["company__name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__isnull=True) | models.Q(amount__gt=0),
                name="monthlybudget_amount_positive",
            ),
        ]

    def __str__(self) -> str:
        if self.amount is None:
            return f"{self.company}: no budget"
        return f"{self.company}: {self.amount.normalize():f} {self.currency} a month"


class SpendAlert(models.Model):
    """One budget threshold crossed by a company in a month, and its email.

    Recorded in the transaction that decides to send, and sent after commit: at
    most one email per (company, month, threshold), even when runs overlap.
    """

    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        related_name="spend_alerts",
    )
    # First day of the billing month in the company's billing time zone (C7).
    month = models.DateField(_("month"))
    # Percent of the budget: 50, 80 or 100 (alert_rules.THRESHOLDS).
    threshold = models.PositiveSmallIntegerField(_("threshold (%)"))
    # The month so far (invoice total, tax included) and the budget when crossed.
    spent = models.DecimalField(
        _("spent"), max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    budget = models.DecimalField(
        _("budget"), max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    currency = models.CharField(_("currency"), max_length=3)
    # When the crossing was recorded; the email leaves right after that commit.
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)
    # The company admins the email was addressed to.
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    # Set when the mail backend refused the email; it is not retried (at most once).
    email_error = models.CharField(_("email error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("spend alert")
        verbose_name_plural = _("spend alerts")
        ordering = ["-month", "company__name", "threshold"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "month", "threshold"],
                name="spendalert_once_per_month",
            ),
            models.CheckConstraint(
                condition=models.Q(threshold__in=THRESHOLDS),
                name="spendalert_threshold_known",
            ),
            models.CheckConstraint(
                condition=models.Q(budget__gt=0), name="spendalert_budget_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} {self.month:%Y-%m}: {self.threshold} %"


# --- Reconciliation (F4) ------------------------------------------------------------

from .reconciliation_rules import Kind as DisagreementKind  # noqa: E402 - F4's rules


class PricingDisagreement(models.Model):
    """F4: a delivered message whose own classification (its ``Charge``, or none
    for a free free-form message) disagrees with the provider's pricing object.

    Derived by ``reconciliation.disagreements_sync`` on every recompute of the
    month's draft invoice: a row whose facts did not change keeps its review,
    changed facts clear it, a message that agrees again loses its row. Customer
    Success review every row before the invoice can be finalized; from then on
    the rows are frozen with the invoice.
    """

    class Kind(models.TextChoices):
        BILLABLE = DisagreementKind.BILLABLE, _("Charged by one side only")
        CATEGORY = DisagreementKind.CATEGORY, _("Charged in another category")

    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        related_name="pricing_disagreements",
    )
    # The invoice of the month (draft until reviewed, then frozen with it).
    invoice = models.ForeignKey(
        Invoice,
        verbose_name=_("invoice"),
        on_delete=models.PROTECT,
        related_name="pricing_disagreements",
    )
    # The invoice's month: first day in the company's billing time zone (C7).
    month = models.DateField(_("month"))
    message = models.OneToOneField(
        Message,
        verbose_name=_("message"),
        on_delete=models.PROTECT,
        related_name="pricing_disagreement",
    )
    kind = models.CharField(_("disagreement"), max_length=20, choices=Kind.choices)
    # Ours: the message's charge, or (False, "service") for a free-form message
    # without one (C5).
    ours_billable = models.BooleanField(_("charged by us"))
    ours_category = models.CharField(
        _("our category"), max_length=20, choices=ChargeCategory.choices
    )
    ours_reason = models.CharField(_("our reason"), max_length=40, blank=True)
    # The provider's: from ``Message.pricing`` (reconciliation_rules.provider_verdict).
    provider_billable = models.BooleanField(_("charged by the provider"))
    provider_category = models.CharField(_("provider's category"), max_length=40)
    provider_type = models.CharField(_("provider's type"), max_length=40, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"))
    # When these facts were first seen; a change of facts resets it.
    detected_at = models.DateTimeField(_("detected at"), default=timezone.now)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    review_note = models.CharField(_("review note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("pricing disagreement")
        verbose_name_plural = _("pricing disagreements")
        ordering = ["-month", "delivered_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind=DisagreementKind.BILLABLE)
                    & ~models.Q(ours_billable=models.F("provider_billable"))
                )
                | (
                    models.Q(
                        kind=DisagreementKind.CATEGORY,
                        ours_billable=True,
                        provider_billable=True,
                    )
                    & ~models.Q(ours_category=models.F("provider_category"))
                ),
                name="pricingdisagreement_kind_matches_facts",
            ),
            models.CheckConstraint(
                condition=models.Q(reviewed_by__isnull=True)
                | models.Q(reviewed_at__isnull=False),
                name="pricingdisagreement_reviewer_has_date",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "-month"]),
            models.Index(
                fields=["invoice"],
                condition=models.Q(reviewed_at__isnull=True),
                name="pricingdisagreement_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} {self.month:%Y-%m}: {self.kind} {self.message_id}"

    @property
    def is_reviewed(self) -> bool:
        return self.reviewed_at is not None
