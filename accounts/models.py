import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    PermissionsMixin,
)
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

currency_validator = RegexValidator(
    r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code such as EUR.")
)
country_validator = RegexValidator(
    r"^[A-Z]{2}$", _("Use a two-letter ISO 3166 code such as ES.")
)


def timezone_validate(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)s is not an IANA time zone."), params={"value": value}
        )


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Company(TimeStampedModel):
    """A tenant: a customer company of the cloud phone system."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    billing_email = models.EmailField(_("billing email"))
    # The customer on its invoices (F7): frozen onto each at finalization.
    legal_name = models.CharField(
        _("legal name"),
        max_length=200,
        blank=True,
        help_text=_("As registered, for invoices; empty: the company's name."),
    )
    tax_id = models.CharField(
        _("tax ID"),
        max_length=32,
        blank=True,
        help_text=_(
            "VAT number in the EU (with its country prefix), else the local tax ID."
        ),
    )
    billing_address = models.TextField(_("billing address"), blank=True)
    country = models.CharField(
        _("country"), max_length=2, validators=[country_validator]
    )
    # ISO 4217; invoices, license prices and rate cards of this company use it.
    billing_currency = models.CharField(
        _("billing currency"),
        max_length=3,
        default="EUR",
        validators=[currency_validator],
    )
    # Billing months and license days are cut in this zone (PRICING_RULES A5, C7).
    billing_timezone = models.CharField(
        _("billing time zone"),
        max_length=64,
        default="UTC",
        validators=[timezone_validate],
    )
    # A fraction: 0.21 means 21 %. Applied on the invoice subtotal (D1).
    tax_rate = models.DecimalField(
        _("tax rate"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("A fraction: 0.21 means 21 %."),
    )
    # F8: a business-initiated template (window closed) needs the contact's opt-in
    # for the business number. Customer Success may turn the check off.
    whatsapp_opt_in_required = models.BooleanField(
        _("WhatsApp opt-in required"),
        default=True,
        db_default=True,
        help_text=_(
            "Refuse templates sent outside the customer service window to contacts "
            "who have not opted in to the business number."
        ),
    )

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tax_rate__gte=0) & models.Q(tax_rate__lte=1),
                name="company_tax_rate_fraction",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:accounts_company_change", args=[self.pk])

    def clean(self):
        """F7: the tax ID is valid for the company's country (the admin's and the
        portal's billing details forms both validate here)."""
        super().clean()
        from .rules import tax_id_check

        check = tax_id_check(country=self.country, tax_id=self.tax_id)
        if check.problem:
            raise ValidationError({"tax_id": check.problem})
        self.tax_id = check.value

    @property
    def invoice_name(self) -> str:
        """The name invoices carry: the legal name, else the company's name."""
        return self.legal_name or self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.billing_timezone)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address.

    Company users belong to exactly one company. Customer Success staff are
    ``is_staff`` users without a company, in the "Customer Success" group.
    """

    class Role(models.TextChoices):
        COMPANY_ADMIN = "company_admin", _("Company admin")
        AGENT = "agent", _("Agent")

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    # Never changes once set: licenses, messages and invoices hang off it.
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        related_name="users",
        null=True,
        blank=True,
    )
    role = models.CharField(
        _("role"), max_length=20, choices=Role.choices, default=Role.AGENT
    )
    is_staff = models.BooleanField(
        _("staff status"),
        default=False,
        help_text=_("Customer Success staff: may log into the admin site."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    # Bumped to end every session of the user (accounts.services.user_sessions_revoke):
    # it is part of the session auth hash Django checks on each request.
    session_epoch = models.PositiveIntegerField(
        _("session epoch"), default=0, editable=False
    )
    # The language of the portal and of the emails this user gets; empty: the
    # company's (accounts.rules.email_language).
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        default="",
        help_text=_(
            "The portal and the emails sent to this user are in this language. "
            "Empty: the company's language."
        ),
    )

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_staff=True) | models.Q(company__isnull=False),
                name="user_company_required_unless_staff",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def _session_hash(self, secret=None) -> str:
        if not self.session_epoch:
            # Django's own hash: sessions opened before the field existed stay valid.
            return super()._get_session_auth_hash(secret=secret)
        return salted_hmac(
            "accounts.User.get_session_auth_hash",
            f"{self.password}:{self.session_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def get_session_auth_hash(self) -> str:
        """An HMAC of the password and the session epoch: a new password or a
        revocation ends every session opened before it."""
        return self._session_hash()

    def get_session_auth_fallback_hash(self):
        for fallback_secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret=fallback_secret)

    def get_short_name(self) -> str:
        return self.get_full_name()

    @property
    def is_company_admin(self) -> bool:
        return self.company_id is not None and self.role == self.Role.COMPANY_ADMIN


class Team(TimeStampedModel):
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.CASCADE,
        related_name="teams",
    )
    name = models.CharField(_("name"), max_length=200)
    # Only users of the same company; enforced by team_members_validate.
    members = models.ManyToManyField(
        User, verbose_name=_("members"), related_name="teams", blank=True
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["company__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "name"], name="team_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.company})"
