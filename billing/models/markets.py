"""Markets (C6): countries and calling-code prefixes, effective-dated from the market table."""

from django.db import models
from django.utils.translation import gettext_lazy as _


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
