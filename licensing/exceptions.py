from accounts.exceptions import DomainError


class SeatLimitExceeded(DomainError):
    code = "seat_limit_exceeded"


class CountBelowAssigned(DomainError):
    code = "count_below_assigned"


class InvalidLicenseChange(DomainError):
    code = "invalid_license_change"


class ForeignUser(DomainError):
    code = "foreign_user"


class InactiveUser(DomainError):
    code = "inactive_user"


class SenderNotLicensed(DomainError):
    code = "sender_not_licensed"


class LicenseRequestRefused(DomainError):
    """A license request that cannot be made or decided; nothing changed."""

    code = "license_request_refused"
