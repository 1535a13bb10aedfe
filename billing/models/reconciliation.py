"""Pricing disagreements with the provider's pricing objects (F4)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company
from messaging.models import Message

from ..rules.reconciliation import Kind as DisagreementKind
from .invoices import Invoice
from .pricing import ChargeCategory


class PricingDisagreement(models.Model):
    """F4: a delivered message whose own classification (its ``Charge``, or none
    for a free free-form message) disagrees with the provider's pricing object.

    Derived by ``services.reconciliation.disagreements_sync`` on every recompute of the
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
    # The provider's: from ``Message.pricing`` (rules.reconciliation.provider_verdict).
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
