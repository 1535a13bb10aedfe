from typing import TYPE_CHECKING

from django.utils.translation import ngettext

from accounts.exceptions import DomainError

if TYPE_CHECKING:
    from .models import Invoice


class RateMissing(DomainError):
    code = "rate_missing"


class LicensePriceMissing(DomainError):
    code = "license_price_missing"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class InvalidCredit(DomainError):
    code = "invalid_credit"


class InvalidRateCard(DomainError):
    code = "invalid_rate_card"

    def __init__(self, message: str, *, errors: list[str] | None = None, **context):
        super().__init__(message, errors=errors or [], **context)
        self.errors = errors or []


class InvalidPricing(DomainError):
    """A charge policy assignment or volume tier set that cannot be applied (F1, F3)."""

    code = "invalid_pricing"


class MonthNotEnded(DomainError):
    """A billing run for a month that has not ended in the company's time zone (D3)."""

    code = "month_not_ended"


class InvalidBudget(DomainError):
    code = "invalid_budget"


class BudgetNotAllowed(DomainError):
    code = "budget_not_allowed"


class DisagreementsUnreviewed(InvalidTransition):
    """F4: the invoice has pricing disagreements nobody has reviewed yet."""

    code = "disagreements_unreviewed"

    def __init__(self, *, invoice: "Invoice", count: int):
        message = ngettext(
            "%(invoice)s: %(count)d pricing disagreement with the provider is not "
            "reviewed yet: review it in Billing → Pricing disagreements.",
            "%(invoice)s: %(count)d pricing disagreements with the provider are not "
            "reviewed yet: review them in Billing → Pricing disagreements.",
            count,
        ) % {"invoice": invoice, "count": count}
        super().__init__(message, invoice=invoice.pk, count=count)
        self.count = count
