"""License writes (A1-A4, F6), one module per concern. Every path (admin, demo,
API) goes through these; every public service is importable from
``licensing.services``.

- ``history``: the purchased count and the price, effective-dated (A1, A2)
- ``assignments``: assigning and revoking, one by one, per team or per company
  (A3), and ``send_permission_check``, the may-send check of every send (A4)
- ``requests``: license requests made, approved within the seat limit, declined (F6)
- ``notices``: the weekly idle license notice, recorded and emailed once (F6)

Row locks come from ``licensing.locks`` (and ``accounts.locks.company_lock``).
"""

from .assignments import (
    AssignmentResult,
    license_assign,
    license_assign_company,
    license_assign_team,
    license_revoke,
    license_revoke_company,
    license_revoke_team,
    send_permission_check,
)
from .history import license_count_set, license_price_set
from .notices import idle_license_notice_email, idle_license_notice_record
from .requests import (
    license_request_approve,
    license_request_create,
    license_request_decline,
)

__all__ = [
    "license_count_set",
    "license_price_set",
    "AssignmentResult",
    "license_assign",
    "license_assign_team",
    "license_assign_company",
    "license_revoke",
    "license_revoke_team",
    "license_revoke_company",
    "send_permission_check",
    "license_request_create",
    "license_request_approve",
    "license_request_decline",
    "idle_license_notice_record",
    "idle_license_notice_email",
]
