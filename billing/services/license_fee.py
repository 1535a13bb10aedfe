"""The license fee of a month (A5), from licensing's count and price history."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from accounts.models import Company
from licensing import rules as license_rules
from licensing.selectors import license_count_history, license_price_history

from .. import rules
from ..exceptions import (
    LicensePriceMissing,
)
from ..money import ZERO, quantize_money


@dataclass(frozen=True)
class LicenseFee:
    amount: Decimal  # rounded to the currency (D1)
    license_days: int
    days_in_month: int
    segments: list[rules.LicenseSegment]

    @property
    def description(self) -> str:
        parts = [
            f"{s.count} license{'s' if s.count != 1 else ''} for {s.days} day{'s' if s.days != 1 else ''}"
            for s in self.segments
        ]
        return "WhatsApp licenses: " + ", ".join(parts)


_INSTANT = timedelta(microseconds=1)


def license_fee_compute(*, company: Company, month: date) -> LicenseFee:
    """A5: the month's license fee in the company's billing time zone."""
    history = license_count_history(company=company)
    prices = license_price_history(company=company)
    days = []
    for start, end in rules.month_days(month, company.zone):
        count = license_rules.count_max_between(history, start=start, end=end)
        # The price in force at the end of the day: a change during the day (or a
        # new company's first price) applies to that whole day, like its count.
        price = license_rules.value_in_force(prices, at=end - _INSTANT, default=None)
        if price is None:
            if count:
                raise LicensePriceMissing(
                    f"No license price for {company} in {company.billing_currency} on "
                    f"{start:%Y-%m-%d}: set a negotiated price or a price list default."
                )
            price = ZERO
        days.append(rules.LicenseDay(count=count, price=price))
    return LicenseFee(
        amount=quantize_money(rules.license_fee(days), company.billing_currency),
        license_days=sum(d.count for d in days),
        days_in_month=len(days),
        segments=rules.license_segments(days),
    )
