"""Rate cards and their per-market, per-category rates (C6), effective-dated."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company, currency_validator
from messaging.models import MessageTemplate

from ..money import RATE_DECIMAL_PLACES
from .markets import Market


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
