"""The portal in Spanish: the language switch, Accept-Language, and the catalog.

The catalog tests read ``locale/es/LC_MESSAGES/django.po`` (and the committed
``.mo``): every entry translated, no fuzzy entry, the same placeholders and
markup as its msgid, and a compiled catalog that matches the source.
"""

import gettext
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from babel.messages.pofile import read_po
from django.conf import settings

from licensing.services import license_count_set, license_price_set
from tests.factories import CompanyAdminFactory

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES"
PO_PATH = LOCALE_DIR / "django.po"
MO_PATH = LOCALE_DIR / "django.mo"

NBSP = "\N{NO-BREAK SPACE}"

# Spanish text each portal page must show once the language is Spanish, and an
# English string of the same page that must be gone.
PAGES = {
    "/": (["Resumen", "Licencia de WhatsApp", "Cerrar sesión"], "Log out"),
    "/inbox/": (["Bandeja de entrada", "Todavía no hay conversaciones"], "Inbox"),
    "/billing/invoices/": (
        ["Facturas", "Este mes hasta hoy", "Cualquier estado", "Filtrar"],
        "Invoices",
    ),
    "/billing/usage/": (
        ["Este mes hasta hoy", "Total estimado", "Mensajes y cargos por día"],
        "Estimated total",
    ),
    "/licenses/": (
        ["Licencias de WhatsApp", "Compradas", "Cuota mensual"],
        "Monthly fee",
    ),
}


@pytest.fixture
def admin_client(client, db):
    admin = CompanyAdminFactory()
    client.force_login(admin)
    client.admin = admin
    return client


def _switch_to_spanish(client):
    response = client.post("/i18n/setlang/", {"language": "es", "next": "/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"


# --- Pages -------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_language_switch_shows_the_page_in_spanish(admin_client, path):
    _switch_to_spanish(admin_client)
    response = admin_client.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    spanish, english = PAGES[path]
    assert '<html lang="es">' in page
    for text in spanish:
        assert text in page, f"{text!r} missing on {path}"
    assert english not in page


@pytest.mark.parametrize("path", PAGES)
def test_accept_language_header_shows_the_page_in_spanish(admin_client, path):
    response = admin_client.get(path, headers={"accept-language": "es-ES,es;q=0.9"})
    assert response.status_code == 200
    page = response.content.decode()
    spanish, english = PAGES[path]
    assert '<html lang="es">' in page
    for text in spanish:
        assert text in page, f"{text!r} missing on {path}"
    assert english not in page


def test_english_stays_the_default(admin_client):
    page = admin_client.get("/").content.decode()
    assert '<html lang="en">' in page
    assert "Log out" in page
    assert "Cerrar sesión" not in page


def test_switching_back_to_english(admin_client):
    _switch_to_spanish(admin_client)
    admin_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = admin_client.get("/licenses/").content.decode()
    assert "Monthly fee" in page
    assert "Cuota mensual" not in page


def test_the_language_select_names_each_language_in_itself(admin_client):
    page = admin_client.get("/").content.decode()
    assert 'action="/i18n/setlang/"' in page
    assert '<option value="en" lang="en" selected>English</option>' in page
    assert '<option value="es" lang="es">Español</option>' in page
    _switch_to_spanish(admin_client)
    page = admin_client.get("/").content.decode()
    assert '<option value="en" lang="en">English</option>' in page
    assert '<option value="es" lang="es" selected>Español</option>' in page
    assert "Inglés" not in page


@pytest.fixture
def licensed_company(admin_client):
    """Two licenses at a negotiated 15 EUR per license per month since 1 October;
    the test runs on 15 October (the license fee needs a price from day one)."""
    company = admin_client.admin.company
    with time_machine.travel(datetime(2026, 10, 1, tzinfo=UTC), tick=False):
        license_price_set(
            company=company, monthly_amount=Decimal("15"), currency="EUR", actor=None
        )
        license_count_set(company=company, quantity=2, actor=None)
    with time_machine.travel(datetime(2026, 10, 15, 12, tzinfo=UTC), tick=False):
        yield company


def test_money_is_formatted_the_spanish_way(admin_client, licensed_company):
    _switch_to_spanish(admin_client)
    page = admin_client.get("/licenses/").content.decode()
    assert f"15,00{NBSP}€ por licencia al mes" in page
    assert f"30,00{NBSP}€" in page  # the monthly fee: 2 × 15
    assert "€15.00" not in page


def test_money_is_formatted_the_english_way_by_default(admin_client, licensed_company):
    page = admin_client.get("/licenses/").content.decode()
    assert "€15.00 per license per month" in page
    assert "€30.00" in page


def test_usage_page_in_spanish_with_a_license_fee(admin_client, licensed_company):
    response = admin_client.get("/billing/usage/", headers={"accept-language": "es"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Licencias de WhatsApp" in page
    assert "licencias-día" in page
    assert f"15,00{NBSP}€ / mes" in page


# --- The catalog -------------------------------------------------------------------

PLACEHOLDER = re.compile(
    r"%\(\w+\)[sdifr]"  # %(name)s
    r"|%[sdifr]"  # %d, %s
    r"|\{\{\s*[^{}]*?\s*\}\}"  # {{ var }}, {{1}}
    r"|\{\w*\}"  # str.format fields
)
TAG = re.compile(r"</?[a-zA-Z][^>]*>")
ENTITY = re.compile(r"&[#\w]+;")


def _markers(text: str) -> dict[str, set[str]]:
    return {
        "placeholders": set(PLACEHOLDER.findall(text)),
        "tags": set(TAG.findall(text)),
        "entities": set(ENTITY.findall(text)),
    }


@pytest.fixture(scope="module")
def catalog():
    with PO_PATH.open("rb") as f:
        return read_po(f, locale="es")


def _entries(catalog):
    return [message for message in catalog if message.id]


def test_catalog_header(catalog):
    assert str(catalog.locale) == "es"
    assert catalog.num_plurals == 2
    assert catalog.plural_expr.replace(" ", "") in {"(n!=1)", "n!=1"}
    assert not catalog.fuzzy
    header = PO_PATH.read_text(encoding="utf-8")
    assert '"Language: es\\n"' in header
    assert '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"' in header


def test_catalog_is_not_empty(catalog):
    assert len(_entries(catalog)) > 100


def test_every_entry_is_translated_and_not_fuzzy(catalog):
    problems = []
    for message in _entries(catalog):
        strings = message.string if message.pluralizable else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        if message.pluralizable and len(strings) != 2:
            problems.append(f"needs 2 plural forms: {message.id!r}")
        if any(not s or not s.strip() for s in strings):
            problems.append(f"untranslated: {message.id!r}")
    assert not problems, "\n".join(problems)


def test_translations_keep_placeholders_and_markup(catalog):
    problems = []
    for message in _entries(catalog):
        if message.pluralizable:
            singular, plural = message.id
            expected = _markers(singular)
            for key, values in _markers(plural).items():
                expected[key] |= values
            strings = message.string
        else:
            expected = _markers(message.id)
            strings = (message.string,)
        for translation in strings:
            got = _markers(translation)
            if got != expected:
                problems.append(
                    f"{message.id!r}: {expected} != {got} in {translation!r}"
                )
    assert not problems, "\n".join(problems)


def test_python_format_flags_match(catalog):
    """An entry flagged python-format must still be a valid format string."""
    for message in _entries(catalog):
        if "python-format" not in message.flags:
            continue
        strings = message.string if message.pluralizable else (message.string,)
        ids = message.id if message.pluralizable else (message.id,)
        names = set(re.findall(r"%\((\w+)\)", ids[0])) | set(
            re.findall(r"%\((\w+)\)", ids[-1])
        )
        values = dict.fromkeys(names, 1)
        for translation in strings:
            if names:
                translation % values  # noqa: B018 - raises if malformed


def test_compiled_catalog_matches_the_po(catalog):
    """The committed .mo is the compiled .po: CI never compiles messages."""
    assert MO_PATH.exists(), "run: manage.py compilemessages -l es"
    with MO_PATH.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    stale = []
    for message in _entries(catalog):
        if message.pluralizable:
            singular, plural = message.id
            for n, expected in ((1, message.string[0]), (2, message.string[1])):
                if compiled.ngettext(singular, plural, n) != expected:
                    stale.append(message.id)
        elif message.context:
            if compiled.pgettext(message.context, message.id) != message.string:
                stale.append(message.id)
        elif compiled.gettext(message.id) != message.string:
            stale.append(message.id)
    assert not stale, f"the .mo is older than the .po (recompile): {stale[:5]}"
