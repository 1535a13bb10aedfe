"""Reads of accounts for the portal's pages."""

from .models import Company, User


def company_admins(*, company: Company) -> list[User]:
    """The active company admins of ``company``, by name: who a user asks for
    what only admins see or decide."""
    return sorted(
        company.users.filter(is_active=True, role=User.Role.COMPANY_ADMIN),
        key=lambda user: (str(user).casefold(), user.email),
    )
