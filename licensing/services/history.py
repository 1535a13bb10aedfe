"""The purchased count (A1) and the price (A2): each change appended to its
history under the company lock, effective now or later, never in the past."""

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from accounts.locks import company_lock
from accounts.models import Company, User

from .. import rules
from ..exceptions import CountBelowAssigned, InvalidLicenseChange
from ..models import LicenseCountChange, LicensePrice
from ..selectors import active_assignments, license_count_history


def _effective_at_validate(effective_at: datetime | None, now: datetime) -> datetime:
    if effective_at is None:
        return now
    if timezone.is_naive(effective_at):
        raise InvalidLicenseChange("The effective time needs a time zone.")
    if effective_at < now:
        raise InvalidLicenseChange(
            "A change cannot take effect in the past; closed months are already billed."
        )
    return effective_at


@transaction.atomic
def license_count_set(
    *,
    company: Company,
    quantity: int,
    actor: User | None,
    effective_at: datetime | None = None,
    note: str = "",
    at: datetime | None = None,
) -> LicenseCountChange:
    """Record a new purchased license count (A1); refuse one below the assignments (A3).

    ``at`` is when the change is recorded (default: now); the demo records its
    history months back this way, each change judged as at its own instant.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise InvalidLicenseChange(
            f"The license count must be a whole number of 0 or more, not {quantity!r}."
        )
    company = company_lock(company)
    # The clock is read once the lock is held: changes are recorded in the order
    # they were serialised, so history and assignments never contradict each other.
    now = at or timezone.now()
    effective_at = _effective_at_validate(effective_at, now)
    history = license_count_history(company=company)
    history.append((effective_at, quantity))
    limit = rules.seat_limit_from(history, at=now)
    assigned = active_assignments(company=company).count()
    if assigned > limit:
        raise CountBelowAssigned(
            f"{company} has {assigned} licenses assigned; the count cannot go below "
            f"that (asked {quantity}). Revoke {assigned - limit} first."
        )
    return LicenseCountChange.objects.create(
        company=company,
        quantity=quantity,
        effective_at=effective_at,
        note=note,
        created_by=actor,
        created_at=now,
    )


@transaction.atomic
def license_price_set(
    *,
    company: Company | None,
    monthly_amount: Decimal | str,
    currency: str,
    actor: User | None,
    effective_at: datetime | None = None,
    note: str = "",
    at: datetime | None = None,
) -> LicensePrice:
    """Record a negotiated price (or, with no company, a price list default) (A2);
    ``at`` as for ``license_count_set``."""
    try:
        amount = Decimal(str(monthly_amount))
    except InvalidOperation as exc:
        raise InvalidLicenseChange(f"{monthly_amount!r} is not an amount.") from exc
    if not amount.is_finite() or amount < 0:
        raise InvalidLicenseChange("A license price must be 0 or more.")
    if amount != amount.quantize(Decimal("0.0001")):
        raise InvalidLicenseChange("A license price has at most four decimals.")
    currency = (currency or "").upper()
    if company is not None and currency != company.billing_currency:
        raise InvalidLicenseChange(
            f"{company} is billed in {company.billing_currency}, not {currency}."
        )
    if company is not None:
        company_lock(company)
    now = at or timezone.now()
    effective_at = _effective_at_validate(effective_at, now)
    return LicensePrice.objects.create(
        company=company,
        currency=currency,
        monthly_amount=amount,
        effective_at=effective_at,
        note=note,
        created_by=actor,
        created_at=now,
    )
