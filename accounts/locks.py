"""Row locks shared by the apps (Saleor's lock_objects): one place, one order.

Lock order everywhere: company, then invoice, then sequence rows.
"""

from .models import Company


def company_lock(company: Company | int) -> Company:
    """Lock and return the company's row; seat and invoice decisions serialise here."""
    pk = company if isinstance(company, int) else company.pk
    return Company.objects.select_for_update().get(pk=pk)
