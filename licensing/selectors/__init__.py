"""License reads, one module per concern; every public selector is importable from
``licensing.selectors``.

- ``history``: the purchased count and price history, one company or many (A1, A2)
- ``assignments``: the active assignments, who holds a license (A3, A4)
- ``summary``: purchased, assigned, free and the monthly fee, per company (A1-A3)
- ``insight``: the holders' sends, idle licenses and their saving (F6)
- ``requests``: license requests, for the requester and the admins (F6)
- ``notices``: the weekly idle license notices still to email (F6)
"""

from .assignments import (
    active_assignments,
    license_holders,
    licensed_user_ids,
    user_holds_license,
)
from .history import (
    license_count_history,
    license_price_at,
    license_price_history,
    license_prices_at,
)
from .insight import (
    CompanyIdleLicenses,
    LicenseInsight,
    assignments_with_activity,
    companies_with_idle_licenses,
    idle_assignments,
    idle_licenses_by_company,
    license_insight,
)
from .notices import idle_license_notices_unsent
from .requests import license_request_get, license_request_list, license_requests_of
from .summary import LicenseSummary, company_list_with_licenses, license_summary

__all__ = [
    "license_count_history",
    "license_price_history",
    "license_price_at",
    "license_prices_at",
    "active_assignments",
    "user_holds_license",
    "licensed_user_ids",
    "license_holders",
    "LicenseSummary",
    "license_summary",
    "company_list_with_licenses",
    "assignments_with_activity",
    "idle_assignments",
    "LicenseInsight",
    "license_insight",
    "CompanyIdleLicenses",
    "idle_licenses_by_company",
    "companies_with_idle_licenses",
    "license_request_list",
    "license_request_get",
    "license_requests_of",
    "idle_license_notices_unsent",
]
