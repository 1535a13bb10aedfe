"""The issuer of every invoice and credit note (F7): one record, edited by
Customer Success in the admin; until it exists, settings give the defaults."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..rules.documents import PAYMENT_TERMS_MAX_DAYS


class Issuer(models.Model):
    """Who invoices: legal name, address, tax ID, logo, how to pay and in how
    many days. A singleton (``singleton`` is always true and unique)."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    legal_name = models.CharField(_("legal name"), max_length=200)
    address = models.TextField(_("address"))
    tax_id = models.CharField(
        _("tax ID"),
        max_length=32,
        help_text=_("VAT number in the EU, with its country prefix."),
    )
    email = models.EmailField(_("billing contact email"), blank=True)
    logo = models.ImageField(
        _("logo"),
        upload_to="issuer/",
        blank=True,
        help_text=_("PNG or JPEG, shown at the top of invoices and credit notes."),
    )
    payment_details = models.TextField(
        _("payment details"),
        blank=True,
        help_text=_("How to pay, printed on invoices: bank, IBAN, BIC."),
    )
    payment_terms_days = models.PositiveSmallIntegerField(
        _("payment terms (days)"),
        default=30,
        validators=[MaxValueValidator(PAYMENT_TERMS_MAX_DAYS)],
        help_text=_("An invoice is due this many days after its issue date."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("issuer")
        verbose_name_plural = _("issuer")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(singleton=True), name="issuer_singleton"
            ),
            models.CheckConstraint(
                condition=models.Q(payment_terms_days__lte=PAYMENT_TERMS_MAX_DAYS),
                name="issuer_payment_terms_bounded",
            ),
        ]

    def __str__(self) -> str:
        return self.legal_name

    def clean(self):
        """An EU VAT number (two-letter prefix) is checked like a customer's (F7)."""
        super().clean()
        from accounts.rules import tax_id_check

        prefix = self.tax_id.strip()[:2].upper()
        if prefix.isalpha():
            check = tax_id_check(
                country={"EL": "GR"}.get(prefix, prefix), tax_id=self.tax_id
            )
            if check.problem:
                raise ValidationError({"tax_id": check.problem})
            self.tax_id = check.value
