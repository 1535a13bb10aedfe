"""Row locks shared by the apps (Saleor's lock_objects): one place, one order.

Lock order everywhere: company, then invoice, then sequence rows. Every lock is
FOR NO KEY UPDATE: it serialises writers of the row but not the FOR KEY SHARE
locks that foreign-key checks take (a new charge or contact referencing the
company), which would otherwise deadlock with webhook processing.
"""

from .models import Company


def company_lock(company: Company | int) -> Company:
    """Lock and return the company's row; seat and invoice decisions serialise here."""
    pk = company if isinstance(company, int) else company.pk
    return Company.objects.select_for_update(no_key=True).get(pk=pk)
