"""The licensing admin for Customer Success, one module per model.

- ``history``: purchased counts and prices (A1, A2), append-only, added through
  their services; the history inlines
- ``assignments``: the assignments' audit trail with sends and idle licenses
  (A3, F6); the assignment inline and ``run_license_action``
- ``requests``: license requests, approved or declined (F6)
- ``notices``: the weekly idle license notices (F6)

Every change goes through a service; a refusal (``DomainError``) is shown as an
error and nothing changes. The company, user and team admins with their license
columns and actions are ``portal.admin``'s, which uses the pieces below.

Django autodiscovers ``licensing.admin``: importing the modules registers them.
"""

from . import notices, requests  # noqa: F401 - each module registers its ModelAdmins
from .assignments import LicenseAssignmentInline, run_license_action
from .history import LicenseCountChangeInline, LicensePriceInline

__all__ = [
    "LicenseAssignmentInline",
    "LicenseCountChangeInline",
    "LicensePriceInline",
    "run_license_action",
]
