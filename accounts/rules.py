"""Account rules, as pure functions: no ORM, no request."""

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

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


# EU VAT numbers start with the member state's code; Greece's is EL, not GR.
_VAT_PREFIXES = {"GR": "EL"}
_TAX_ID_CHARS = re.compile(r"^[A-Z0-9]{2,30}$")


@dataclass(frozen=True)
class TaxIdCheck:
    value: str  # the number as printed on invoices ("" when none)
    problem: str  # "" when valid


def tax_id_check(*, country: str, tax_id: str) -> TaxIdCheck:
    """A customer's tax ID for its country (product rule F7: the invoice carries it,
    Directive 2006/112/EC art. 226).

    Empty is allowed (a customer without one). In an EU member state it is a VAT
    number, checked with its country's check digits (python-stdnum) and
    printed with the country prefix (``ES`` + ``B12345674`` → ``ESB12345674``),
    which must be the company's country. Elsewhere, the country's own number
    when python-stdnum knows it (Mexico's RFC, the UK's VAT number…), else 2-30
    letters and digits.
    """
    from stdnum import get_cc_module
    from stdnum.eu import vat as eu_vat
    from stdnum.exceptions import ValidationError

    country = (country or "").upper()
    raw = re.sub(r"[\s.\-/]", "", tax_id or "").upper()
    if not raw:
        return TaxIdCheck("", "")
    if country.lower() in eu_vat.MEMBER_STATES:
        prefix = _VAT_PREFIXES.get(country, country)
        number = raw if raw[:2].isalpha() else prefix + raw
        if number[:2] != prefix:
            return TaxIdCheck(
                raw,
                _("A VAT number of %(country)s starts with %(prefix)s.")
                % {"country": country, "prefix": prefix},
            )
        try:
            return TaxIdCheck(eu_vat.validate(number), "")
        except ValidationError:
            return TaxIdCheck(
                raw,
                _("%(number)s is not a valid VAT number of %(country)s.")
                % {"number": number, "country": country},
            )
    module = get_cc_module(country.lower(), "vat") if country else None
    if module is not None:
        try:
            return TaxIdCheck(module.validate(raw), "")
        except ValidationError:
            return TaxIdCheck(
                raw,
                _("%(number)s is not a valid tax ID of %(country)s.")
                % {"number": raw, "country": country},
            )
    if not _TAX_ID_CHARS.match(raw):
        return TaxIdCheck(raw, _("A tax ID has 2 to 30 letters and digits."))
    return TaxIdCheck(raw, "")


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
