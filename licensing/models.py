from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company, currency_validator

PRICE_MAX_DIGITS = 14
PRICE_DECIMAL_PLACES = 4


class LicenseCountChange(models.Model):
    """A1: the purchased license count from ``effective_at`` on. Append-only."""

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="license_count_changes"
    )
    quantity = models.PositiveIntegerField(_("licenses purchased"))
    # When the new count takes effect (now or scheduled); never in the past.
    effective_at = models.DateTimeField(_("effective from"), default=timezone.now)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("license count change")
        verbose_name_plural = _("license count history")
        ordering = ["company", "effective_at", "id"]
        indexes = [models.Index(fields=["company", "effective_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0),
                name="licensecountchange_quantity_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.company}: {self.quantity} from {self.effective_at:%Y-%m-%d %H:%M}"
        )


class LicensePrice(models.Model):
    """A2: the monthly price of one license from ``effective_at`` on. Append-only.

    ``company`` empty means the price list default for that currency, used by
    companies without a negotiated price.
    """

    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        related_name="license_prices",
        null=True,
        blank=True,
        help_text=_("Empty: the price list default for the currency."),
    )
    currency = models.CharField(
        _("currency"), max_length=3, validators=[currency_validator]
    )
    monthly_amount = models.DecimalField(
        _("price per license per month"),
        max_digits=PRICE_MAX_DIGITS,
        decimal_places=PRICE_DECIMAL_PLACES,
        validators=[MinValueValidator(Decimal("0"))],
    )
    effective_at = models.DateTimeField(_("effective from"), default=timezone.now)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("license price")
        verbose_name_plural = _("license prices")
        ordering = ["company", "currency", "effective_at", "id"]
        indexes = [models.Index(fields=["company", "currency", "effective_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(monthly_amount__gte=0),
                name="licenseprice_amount_not_negative",
            ),
        ]

    def __str__(self) -> str:
        who = self.company or _("Price list")
        return f"{who}: {self.monthly_amount} {self.currency} from {self.effective_at:%Y-%m-%d}"


class LicenseAssignment(models.Model):
    """A3: one user holds one license from ``assigned_at`` until ``revoked_at``.

    Rows are never deleted; revoking sets ``revoked_at``. The partial unique
    constraint is the database backstop for "a user holds at most one license".
    """

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="license_assignments"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="license_assignments",
    )
    assigned_at = models.DateTimeField(_("assigned at"), default=timezone.now)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )

    class Meta:
        verbose_name = _("license assignment")
        verbose_name_plural = _("license assignments")
        ordering = ["-assigned_at", "-id"]
        indexes = [models.Index(fields=["company", "revoked_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(revoked_at__isnull=True),
                name="licenseassignment_one_active_per_user",
            ),
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=True)
                | models.Q(revoked_at__gte=models.F("assigned_at")),
                name="licenseassignment_revoked_after_assigned",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.company})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class LicenseRequest(models.Model):
    """A user without a license asks for one; a company admin (or Customer
    Success) approves it through ``license_assign``, so the seat limit holds.

    At most one pending request per user (partial unique constraint); decided
    requests are kept as history and never reopened.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")

    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        related_name="license_requests",
    )
    # Always a user of ``company`` (checked by license_request_create).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        related_name="license_requests",
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    # Moves pending -> approved | declined once, by a guarded update.
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    # Set exactly when the request leaves "pending".
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("license request")
        verbose_name_plural = _("license requests")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["company", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status="pending"),
                name="licenserequest_one_pending_per_user",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "approved", "declined"]),
                name="licenserequest_status_valid",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status="pending", decided_at__isnull=True)
                    | (~models.Q(status="pending") & models.Q(decided_at__isnull=False))
                ),
                name="licenserequest_decided_at_when_decided",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_status_display()})"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING


class IdleLicenseNotice(models.Model):
    """The weekly email to a company's admins listing its idle licenses.

    One row per company per ISO week (unique constraint): the row is written
    before the email is sent, so a re-run of the weekly task sends nothing twice.
    It keeps what the email said, which Customer Success see in the admin.
    """

    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        related_name="idle_license_notices",
    )
    # The Monday (UTC) of the ISO week the notice belongs to (rules.iso_week_start).
    week = models.DateField(_("week of"))
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    # Empty until the email went out; a failed send is retried by its task.
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    # The idle licenses as listed in the email: [{"email", "name", "last_sent_at"}].
    licenses = models.JSONField(_("idle licenses"), default=list, blank=True)
    idle_count = models.PositiveIntegerField(_("idle licenses"))
    # Price per license x idle count at the time of the notice; empty with no price.
    monthly_saving = models.DecimalField(
        _("monthly saving"),
        max_digits=PRICE_MAX_DIGITS,
        decimal_places=PRICE_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    currency = models.CharField(
        _("currency"), max_length=3, validators=[currency_validator]
    )

    class Meta:
        verbose_name = _("idle license notice")
        verbose_name_plural = _("idle license notices")
        ordering = ["-week", "company"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "week"], name="idlelicensenotice_one_per_week"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company}: {self.idle_count} idle ({self.week:%G-W%V})"
