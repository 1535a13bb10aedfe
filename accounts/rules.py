"""Account rules, as pure functions: no ORM, no request."""

# The fields of a user that hand over the account or its rights: whoever may
# change them may log in as that user or act with their permissions.
ACCOUNT_TAKEOVER_FIELDS = (
    "email",
    "is_active",
    "is_staff",
    "is_superuser",
    "groups",
    "user_permissions",
)


def may_manage_account(
    *,
    actor_is_superuser: bool,
    target_is_superuser: bool,
    target_is_staff: bool,
    is_self: bool,
) -> bool:
    """May the actor change the password, email, active flag, staff and superuser
    flags, groups and permissions of the target account, or delete it?

    A superuser may change any account. Other staff (Customer Success) may
    change company users and their own account, never a superuser or another
    staff user: that would let them log in as a more privileged person.
    """
    if actor_is_superuser:
        return True
    if is_self:
        return True
    return not (target_is_superuser or target_is_staff)


# Countries whose billing contacts read Spanish (ISO 3166 alpha-2); every other
# country is written to in English, the product's default language.
SPANISH_SPEAKING_COUNTRIES = frozenset(
    {
        "AR", "BO", "CL", "CO", "CR", "CU", "DO", "EC", "ES", "GQ", "GT",
        "HN", "MX", "NI", "PA", "PE", "PR", "PY", "SV", "UY", "VE",
    }
)  # fmt: skip


def company_language(*, country: str, default: str = "en") -> str:
    """The language a company is written to when nobody chose one: Spanish for a
    Spanish-speaking country, else ``default``."""
    return "es" if (country or "").upper() in SPANISH_SPEAKING_COUNTRIES else default


def email_language(
    *, preferred: str, country: str, available: tuple[str, ...], default: str = "en"
) -> str:
    """The language of an email to one recipient: the recipient's own choice when
    the product speaks it, else the company's (``company_language``)."""
    if preferred in available:
        return preferred
    return company_language(country=country, default=default)
