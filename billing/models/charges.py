"""Charges: one per delivered outbound message (C1-C7, F1-F3)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company
from messaging.models import Message

from ..money import RATE_DECIMAL_PLACES
from ..rules import Reason
from .invoices import Invoice
from .markets import Market
from .pricing import ChargeCategory, ChargePolicy, VolumeTier

REASON_CHOICES = [
    (Reason.MARKETING, _("Charged: marketing template")),
    (Reason.AUTHENTICATION, _("Charged: authentication template")),
    (Reason.UTILITY_NO_WINDOW, _("Charged: utility template, no window open")),
    (Reason.UTILITY_IN_WINDOW, _("Free: utility template inside the window")),
    (
        Reason.UTILITY_IN_WINDOW_CHARGED,
        _("Charged by the policy: utility template inside the window"),
    ),
    (Reason.SERVICE, _("Charged by the policy: free-form message")),
    (Reason.SERVICE_FREE, _("Free: free-form message")),
    (Reason.FREE_BY_POLICY, _("Free by the policy")),
    (Reason.ENTRY_POINT, _("Free: free entry point window")),
    (Reason.PROVIDER_ENTRY_POINT, _("Free: entry point reported by WhatsApp")),
]


class Charge(models.Model):
    """One delivered outbound message's usage record (C1-C7, F1-F3): every
    template, billable or free with why, and free-form messages a policy charges."""

    # The references to the facts a charge is derived from (message, company,
    # market, window and entry point messages) have no database constraint: the
    # charge query inserts them from those very rows in the same statement, and
    # PostgreSQL's deferred checks at commit (one locking probe per row and key)
    # cost as much as the INSERT. PROTECT still refuses, in Django, to delete
    # what a charge refers to; nothing in the product deletes messages.
    message = models.OneToOneField(
        Message, on_delete=models.PROTECT, related_name="charge", db_constraint=False
    )
    # Indexed by (company, delivered_at) below.
    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        related_name="charges",
        db_index=False,
        db_constraint=False,
    )
    category = models.CharField(max_length=20, choices=ChargeCategory.choices)
    # Not indexed: a market is never deleted while charges use it (PROTECT).
    market = models.ForeignKey(
        Market,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    delivered_at = models.DateTimeField()
    billable = models.BooleanField()
    # Why it is charged or free (D4): one of rules.Reason, the answer of charge_for.
    reason = models.CharField(max_length=40, choices=REASON_CHOICES)
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
        Message,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    window_opened_at = models.DateTimeField(null=True, blank=True)
    # F1: the policy in force at delivery (empty: the contract's rules, no policy set).
    policy = models.ForeignKey(
        ChargePolicy,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # F2: the ad-referred inbound message whose free entry point window (opened by
    # the business's answer at entry_point_opened_at) covered the delivery.
    entry_point_message = models.ForeignKey(
        Message,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    entry_point_opened_at = models.DateTimeField(null=True, blank=True)
    # F3: the volume tier whose rate applies (empty: the rate card's).
    tier = models.ForeignKey(
        VolumeTier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # The invoice that bills it; frozen once that invoice is finalized.
    # Indexed by (invoice, billable, category, market) below.
    invoice = models.ForeignKey(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="charges",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("charge")
        verbose_name_plural = _("charges")
        ordering = ["delivered_at", "id"]
        # Every index costs each charge written (a billing run writes millions):
        # no single-column copy of a composite's first column, and the optional
        # references only where they are set (partial).
        indexes = [
            models.Index(fields=["company", "delivered_at"]),
            models.Index(fields=["invoice", "billable", "category", "market"]),
            *(
                models.Index(
                    fields=[field],
                    condition=models.Q(**{f"{field}__isnull": False}),
                    name=name,
                )
                for field, name in (
                    ("window_message", "charge_window_message_idx"),
                    ("entry_point_message", "charge_entry_point_idx"),
                    ("policy", "charge_policy_idx"),
                    ("tier", "charge_tier_idx"),
                )
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.market} {self.amount or 0} {self.currency}"
