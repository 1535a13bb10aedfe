"""Contacts and their opt-ins (F8): created from inbound messages, from first
sends and from a CSV import; an opt-in per contact and business number keeps
its source and the earliest instant it is known from."""

import csv
import io
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from accounts.models import Company, User

from .. import rules
from ..exceptions import ContactImportInvalid, InvalidPhoneNumber
from ..models import BusinessNumber, Contact, ContactOptIn

# The contact CSV: a header row naming these columns, in any order; only
# ``phone`` is required. ``business_number`` (its display number, or "*" for
# every number of the company) and ``opted_in_at`` (ISO date or date-time, UTC
# when it names no zone; empty = the import's time) record an opt-in.
IMPORT_COLUMNS = ("phone", "name", "business_number", "opted_in_at")
IMPORT_MAX_ROWS = 10_000
ALL_NUMBERS = "*"


def phone_refusal_message(code: str) -> str:
    """The words for a rules.PhoneRefusal code."""
    return {
        rules.PhoneRefusal.EMPTY: _("Enter the contact's phone number."),
        rules.PhoneRefusal.NOT_A_NUMBER: _(
            "This is not a phone number: use the international format, e.g. "
            "+34 612 34 56 78."
        ),
        rules.PhoneRefusal.INVALID: _(
            "This phone number is not valid for its country: check the digits and "
            "the country code."
        ),
        rules.PhoneRefusal.UNSUPPORTED: _(
            "WhatsApp cannot reach this kind of number (toll-free, premium-rate, "
            "shared-cost or non-geographic): use a mobile or landline number."
        ),
    }[code]


def phone_parse(*, raw: str, region: str = "") -> rules.PhoneNumber:
    """Return ``raw`` normalised to E.164, or raise InvalidPhoneNumber."""
    result = rules.phone_normalise(raw, region=region)
    if isinstance(result, str):
        raise InvalidPhoneNumber(phone_refusal_message(result), reason=result)
    return result


def contact_get_or_create(
    *, company: Company, wa_id: str, profile_name: str = ""
) -> tuple[Contact, bool]:
    """Return the company's contact of ``wa_id``, created once (unique per company
    and number, so concurrent callers get the same row)."""
    contact, created = Contact.objects.get_or_create(
        company=company,
        wa_id=wa_id,
        defaults={"profile_name": profile_name, "country": rules.country_of(wa_id)},
    )
    if not created and profile_name and not contact.profile_name:
        contact.profile_name = profile_name
        contact.save(update_fields=["profile_name", "updated_at"])
    return contact, created


def contact_opt_in_record(
    *,
    contact: Contact,
    business_number: BusinessNumber,
    source: str,
    at: datetime,
    recorded_by: User | None = None,
) -> ContactOptIn:
    """F8: record that ``contact`` opted in to ``business_number`` at ``at``.

    One row per pair; recorded again, the earliest instant and its source win.
    """
    if contact.company_id != business_number.company_id:
        raise ValueError("The contact and the number belong to different companies.")
    opt_in, created = ContactOptIn.objects.get_or_create(
        contact=contact,
        business_number=business_number,
        defaults={
            "company_id": contact.company_id,
            "source": source,
            "opted_in_at": at,
            "recorded_by": recorded_by,
        },
    )
    if not created and at < opt_in.opted_in_at:
        ContactOptIn.objects.filter(pk=opt_in.pk, opted_in_at__gt=at).update(
            source=source, opted_in_at=at, recorded_by=recorded_by
        )
        opt_in.refresh_from_db()
    return opt_in


def opt_ins_from_inbound_record(
    *, number: BusinessNumber, first_inbound: dict[int, datetime]
) -> None:
    """F8: a contact who writes to a number has opted in to it, from the
    provider time of their first message ({contact id: instant})."""
    if not first_inbound:
        return
    ContactOptIn.objects.bulk_create(
        [
            ContactOptIn(
                company_id=number.company_id,
                contact_id=contact_id,
                business_number=number,
                source=ContactOptIn.Source.INBOUND,
                opted_in_at=at,
            )
            for contact_id, at in sorted(first_inbound.items())
        ],
        ignore_conflicts=True,
    )
    # A message older than the known opt-in (webhooks out of order, or an
    # import dated later) moves it back: one read, and an UPDATE only for those.
    later = ContactOptIn.objects.filter(
        business_number=number,
        contact_id__in=list(first_inbound),
        opted_in_at__gt=min(first_inbound.values()),
    ).values_list("pk", "contact_id", "opted_in_at")
    for pk, contact_id, opted_in_at in sorted(later):
        at = first_inbound[contact_id]
        if at < opted_in_at:
            ContactOptIn.objects.filter(pk=pk).update(
                source=ContactOptIn.Source.INBOUND, opted_in_at=at, recorded_by=None
            )


def _opted_in_at_parse(value: str) -> datetime | None:
    try:
        return _opted_in_at_read(value)
    except ValueError:
        return None


def _opted_in_at_read(value: str) -> datetime | None:
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            return None
        parsed = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def contacts_import(*, company: Company, text: str, actor: User | None) -> dict:
    """Create or update the company's contacts from a CSV text; return counts.

    All or nothing: every bad row is reported with its line number in one
    ContactImportInvalid, and then nothing is imported. A contact already known
    keeps its row (its name is filled in when it had none); an opt-in already
    recorded keeps its earliest instant.
    """
    at = timezone.now()
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    errors: list[tuple[int, str]] = []
    try:
        header = next(reader, None)
    except csv.Error as exc:
        header = None
        errors.append((1, _("The file is not valid CSV: %(error)s") % {"error": exc}))
    if header is None and not errors:
        errors.append((1, _("The file is empty: the first line names the columns.")))
    columns: dict[str, int] = {}
    if header is not None:
        names = [cell.strip().lower() for cell in header]
        unknown = [n for n in names if n not in IMPORT_COLUMNS]
        if unknown:
            errors.append(
                (
                    1,
                    _("Unknown column(s) %(unknown)s; use %(columns)s.")
                    % {
                        "unknown": ", ".join(unknown),
                        "columns": ", ".join(IMPORT_COLUMNS),
                    },
                )
            )
        if "phone" not in names:
            errors.append((1, _("The phone column is missing.")))
        columns = {name: index for index, name in enumerate(names)}
    if errors:
        raise ContactImportInvalid(_("Nothing was imported."), errors=errors)

    numbers = {
        "".join(ch for ch in n.display_phone_number if ch.isdigit()): n
        for n in BusinessNumber.objects.filter(company=company)
    }
    region = company.country or ""
    rows: dict[str, dict] = {}
    opt_ins: dict[tuple[str, int], datetime] = {}
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line = reader.line_num
            errors.append((line, _("Not valid CSV: %(error)s") % {"error": exc}))
            break
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(rows) >= IMPORT_MAX_ROWS:
            errors.append(
                (
                    line,
                    _("At most %(max)d contacts per file.") % {"max": IMPORT_MAX_ROWS},
                )
            )
            break
        if len(row) != len(columns):
            errors.append(
                (
                    line,
                    _("Expected %(expected)d fields, found %(found)d.")
                    % {"expected": len(columns), "found": len(row)},
                )
            )
            continue
        cells = {name: row[index].strip() for name, index in columns.items()}
        problems = []
        if any("\x00" in cell for cell in cells.values()):
            errors.append((line, _("The row holds a NUL character.")))
            continue
        phone = rules.phone_normalise(cells["phone"], region=region)
        if isinstance(phone, str):
            problems.append(phone_refusal_message(phone))
        name = cells.get("name", "")
        if len(name) > 200:
            problems.append(_("The name is longer than 200 characters."))
        targets: list[BusinessNumber] = []
        wanted = cells.get("business_number", "")
        if wanted == ALL_NUMBERS:
            targets = list(numbers.values())
        elif wanted:
            digits = "".join(ch for ch in wanted if ch.isdigit())
            if digits in numbers:
                targets = [numbers[digits]]
            else:
                problems.append(
                    _("%(number)s is not a business number of your company.")
                    % {"number": wanted}
                )
        opted_in_at = at
        if cells.get("opted_in_at"):
            parsed = _opted_in_at_parse(cells["opted_in_at"])
            if parsed is None:
                problems.append(
                    _("opted_in_at %(value)s is not a date (use YYYY-MM-DD).")
                    % {"value": cells["opted_in_at"]}
                )
            elif parsed > at:
                problems.append(_("opted_in_at is in the future."))
            else:
                opted_in_at = parsed
            if not wanted:
                problems.append(_("opted_in_at needs a business_number to opt in to."))
        if problems:
            errors.extend((line, problem) for problem in problems)
            continue
        rows.setdefault(phone.wa_id, {"name": name})
        if name:
            rows[phone.wa_id]["name"] = name
        for number in targets:
            key = (phone.wa_id, number.pk)
            opt_ins[key] = min(opt_ins.get(key, opted_in_at), opted_in_at)
    if errors:
        raise ContactImportInvalid(_("Nothing was imported."), errors=errors)

    created = 0
    with transaction.atomic():
        contacts = {}
        for wa_id, values in sorted(rows.items()):
            contact, was_created = contact_get_or_create(
                company=company, wa_id=wa_id, profile_name=values["name"]
            )
            contacts[wa_id] = contact
            created += was_created
        by_pk = {n.pk: n for n in numbers.values()}
        for (wa_id, number_pk), when in sorted(opt_ins.items()):
            contact_opt_in_record(
                contact=contacts[wa_id],
                business_number=by_pk[number_pk],
                source=ContactOptIn.Source.IMPORT,
                at=when,
                recorded_by=actor,
            )
    return {"contacts": len(rows), "created": created, "opt_ins": len(opt_ins)}
