from accounts.exceptions import DomainError


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
