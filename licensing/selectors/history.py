"""The purchased count and price history (A1, A2): what was bought, at what price."""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from accounts.models import Company

from .. import rules
from ..models import LicenseCountChange, LicensePrice


def license_count_history(*, company: Company) -> list[tuple[datetime, int]]:
    return list(
        LicenseCountChange.objects.filter(company=company)
        .order_by("effective_at", "id")
        .values_list("effective_at", "quantity")
    )


def license_price_history(*, company: Company) -> list[tuple[datetime, Decimal]]:
    """Return the company's negotiated prices, else the price list default (A2)."""
    negotiated = list(
        LicensePrice.objects.filter(company=company, currency=company.billing_currency)
        .order_by("effective_at", "id")
        .values_list("effective_at", "monthly_amount")
    )
    if negotiated:
        default = list(
            LicensePrice.objects.filter(
                company__isnull=True,
                currency=company.billing_currency,
                effective_at__lt=negotiated[0][0],
            )
            .order_by("effective_at", "id")
            .values_list("effective_at", "monthly_amount")
        )
        return default + negotiated
    return list(
        LicensePrice.objects.filter(
            company__isnull=True, currency=company.billing_currency
        )
        .order_by("effective_at", "id")
        .values_list("effective_at", "monthly_amount")
    )


def license_price_at(*, company: Company, at: datetime) -> Decimal | None:
    return rules.value_in_force(
        license_price_history(company=company), at=at, default=None
    )


def license_prices_at(
    *, companies: Iterable[Company], at: datetime
) -> dict[int, Decimal | None]:
    """Return each company's price per license at ``at`` (A2), in one query.

    Same choice as ``license_price_history``: the negotiated prices in the
    billing currency, preceded by the price list defaults effective before the
    first of them; only the defaults when nothing was negotiated.
    """
    companies = list(companies)
    if not companies:
        return {}
    rows = list(
        LicensePrice.objects.filter(
            Q(company__in=[c.pk for c in companies])
            | Q(
                company__isnull=True,
                currency__in={c.billing_currency for c in companies},
            )
        )
        .order_by("effective_at", "id")
        .values_list("company_id", "currency", "effective_at", "monthly_amount")
    )
    prices: dict[int, Decimal | None] = {}
    for company in companies:
        currency = company.billing_currency
        negotiated = [
            (e, a) for cid, cur, e, a in rows if cid == company.pk and cur == currency
        ]
        defaults = [
            (e, a) for cid, cur, e, a in rows if cid is None and cur == currency
        ]
        if negotiated:
            history = [d for d in defaults if d[0] < negotiated[0][0]] + negotiated
        else:
            history = defaults
        prices[company.pk] = rules.value_in_force(history, at=at, default=None)
    return prices
