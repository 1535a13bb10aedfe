"""Charge policies (F1) and their assignments, volume tiers (F3)."""

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
    # Empty in the one row of a set that ends the tiers from its month (the rate
    # card applies again): then the rate is empty too.
    from_message = models.PositiveIntegerField(
        _("from message number"),
        validators=[MinValueValidator(1)],
        null=True,
        blank=True,
    )
    rate = models.DecimalField(
        _("rate"),
        max_digits=12,
        decimal_places=RATE_DECIMAL_PLACES,
        validators=[MinValueValidator(Decimal("0"))],
        null=True,
        blank=True,
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
            models.CheckConstraint(
                condition=models.Q(from_message__isnull=True, rate__isnull=True)
                | models.Q(from_message__isnull=False, rate__isnull=False),
                name="volumetier_end_has_no_rate",
            ),
        ]

    def __str__(self) -> str:
        if self.ends_tiers:
            return (
                f"{self.company} {self.market} {self.category}: no tiers "
                f"({self.effective_from:%Y-%m})"
            )
        return (
            f"{self.company} {self.market} {self.category} from #{self.from_message}: "
            f"{self.rate} {self.currency} ({self.effective_from:%Y-%m})"
        )

    @property
    def ends_tiers(self) -> bool:
        """Whether this row ends the tiers from its month instead of being one."""
        return self.from_message is None
