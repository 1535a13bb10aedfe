"""Reads of accounts for the portal's pages."""

from dataclasses import dataclass

from django.conf import settings

from . import rules
from .models import Company, User


def company_admins(*, company: Company) -> list[User]:
    """The active company admins of ``company``, by name: who a user asks for
    what only admins see or decide."""
    return sorted(
        company.users.filter(is_active=True, role=User.Role.COMPANY_ADMIN),
        key=lambda user: (str(user).casefold(), user.email),
    )


@dataclass(frozen=True)
class Recipient:
    """Someone a company's emails go to, and the language they are written in."""

    email: str
    name: str
    language: str


def _languages() -> tuple[str, ...]:
    return tuple(code for code, _name in settings.LANGUAGES)


def user_email_language(*, user: User, company: Company) -> str:
    """The language of the emails ``user`` gets (accounts.rules.email_language)."""
    return rules.email_language(
        preferred=user.language,
        country=company.country,
        available=_languages(),
        default=settings.LANGUAGE_CODE,
    )


def company_email_language(*, company: Company) -> str:
    """The language of the emails to the company's own billing address."""
    return rules.email_language(
        preferred="",
        country=company.country,
        available=_languages(),
        default=settings.LANGUAGE_CODE,
    )


def admin_recipients(*, company: Company) -> list[Recipient]:
    """The active company admins, each in their language, by email."""
    admins = company.users.filter(is_active=True, role=User.Role.COMPANY_ADMIN)
    return [
        Recipient(
            email=user.email,
            name=user.full_name,
            language=user_email_language(user=user, company=company),
        )
        for user in admins.order_by("email")
    ]


def billing_recipients(*, company: Company) -> list[Recipient]:
    """Who gets the company's invoices and credit notes: its active admins (in
    their language) and its billing email (in the company's), each once."""
    recipients = admin_recipients(company=company)
    billing_email = (company.billing_email or "").strip().lower()
    if billing_email and billing_email not in {r.email.lower() for r in recipients}:
        recipients.append(
            Recipient(
                email=billing_email,
                name="",
                language=company_email_language(company=company),
            )
        )
    return recipients
