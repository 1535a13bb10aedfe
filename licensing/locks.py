"""Row locks of licensing, in one place (Saleor's lock_objects); the company's
row lock stays ``accounts.locks.company_lock``.

Licensing's place in the lock order (accounts/locks.py: company, then invoice,
then sequence rows): the company first, then licensing's own rows.

- Count and price changes, assignments and revocations (A1-A3) lock only the
  company (``company_lock``); the seat limit is decided under it.
- Deciding a license request (F6): the company (``company_lock``), then the
  request (``license_request_lock``, the request's row only). Approving then
  assigns through ``license_assign``, whose company lock is the one already
  held. Never a request before its company.
- Emailing an idle license notice (F6): ``idle_license_notice_lock`` locks the
  notice's row only, the one lock of that transaction, held until the email is
  sent and ``emailed_at`` saved: a slow mail server never holds up the
  company's license changes. Recording a notice locks no row: the unique
  (company, week) constraint settles concurrent runs.

No licensing row is locked together with billing's invoice or sequence rows.
Every lock is FOR NO KEY UPDATE, as in accounts/locks.py.
"""

from .models import IdleLicenseNotice, LicenseRequest


def license_request_lock(pk: int) -> LicenseRequest:
    """Lock and return license request ``pk`` with its company and user, to decide
    it once; hold the company's lock (``company_lock``) first."""
    return (
        LicenseRequest.objects.select_for_update(no_key=True, of=("self",))
        .select_related("company", "user")
        .get(pk=pk)
    )


def idle_license_notice_lock(pk: int) -> IdleLicenseNotice:
    """Lock and return idle license notice ``pk`` with its company, so that it is
    emailed once (``emailed_at`` is read and set under this lock)."""
    return (
        IdleLicenseNotice.objects.select_for_update(no_key=True, of=("self",))
        .select_related("company")
        .get(pk=pk)
    )
