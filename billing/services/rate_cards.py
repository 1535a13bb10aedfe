"""Rate cards as CSV: export a card's rates and import new ones (C6).

Rates are history: an import only appends. A row equal to an existing rate is
skipped, a row that would change an existing rate is refused. Every problem of a
file is reported at once, with its line number, and nothing is imported then.

The format is the same both ways, so an export can be edited and imported::

    market,category,rate,currency,effective_from
    Spain,marketing,0.0615,EUR,2026-01-01
    Spain,utility,0.0200,EUR,2026-07-01T00:00:00+02:00
"""

import csv
import io
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Company, User

from .. import rules
from ..csv_safe import FormulaSafeWriter
from ..exceptions import InvalidRateCard
from ..locks import rate_card_lock
from ..models import Market, Rate, RateCard
from ..money import RATE_DECIMAL_PLACES, RATE_QUANTUM

COLUMNS = ("market", "category", "rate", "currency", "effective_from")
CATEGORIES = rules.TEMPLATE_CATEGORIES
# Rate.rate is DecimalField(max_digits=12, decimal_places=4).
RATE_MAX = Decimal("99999999.9999")

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


# --- Creating cards ---------------------------------------------------------------


def rate_card_validate(*, company: Company | None, currency: str) -> None:
    """Refuse a card another card already covers, or in a foreign currency.

    A company's card must be in the company's billing currency: charges are
    priced only from cards in that currency (C6), so any other card is dead.
    """
    if company is not None and currency != company.billing_currency:
        raise InvalidRateCard(
            f"{company} is billed in {company.billing_currency}; its rate card must "
            f"use {company.billing_currency}, not {currency}."
        )
    if RateCard.objects.filter(company=company, currency=currency).exists():
        owner = company or "The price list"
        raise InvalidRateCard(
            f"{owner} already has a {currency} rate card; import the rates into it."
        )


@transaction.atomic
def rate_card_create(
    *, company: Company | None, currency: str, name: str = ""
) -> RateCard:
    """Create an empty rate card; its rates come from ``rate_card_import``."""
    currency = currency.strip().upper()
    rate_card_validate(company=company, currency=currency)
    try:
        with transaction.atomic():
            return RateCard.objects.create(
                company=company, currency=currency, name=name.strip()
            )
    except IntegrityError as exc:  # created concurrently
        raise InvalidRateCard(
            f"{company or 'The price list'} already has a {currency} rate card."
        ) from exc


# --- Export ------------------------------------------------------------------------


def _instant_format(value: datetime) -> str:
    """``YYYY-MM-DD`` for midnight UTC, else the full ISO datetime in UTC."""
    value = value.astimezone(UTC)
    if value.time() == time(0, 0):
        return value.date().isoformat()
    return value.isoformat()


def rate_card_export(*, card: RateCard) -> str:
    """Return the card's rates as CSV, sorted by market, category and date."""
    out = io.StringIO()
    writer = FormulaSafeWriter(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    rates = card.rates.select_related("market").order_by(
        "market__name", "category", "effective_from"
    )
    for rate in rates:
        writer.writerow(
            [
                rate.market.name,
                rate.category,
                f"{rate.rate.quantize(RATE_QUANTUM)}",
                card.currency,
                _instant_format(rate.effective_from),
            ]
        )
    return out.getvalue()


# --- Import ------------------------------------------------------------------------


def rate_parse(raw: str) -> tuple[Decimal | None, str | None]:
    """C6: a rate as written by a person, or why it is not one."""
    if not _DECIMAL.match(raw):
        return None, f"rate '{raw}' is not a decimal number such as 0.0615"
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        return None, f"rate '{raw}' is not a decimal number such as 0.0615"
    if value < 0:
        return None, f"rate {raw} is negative"
    if value != value.quantize(RATE_QUANTUM):
        return None, f"rate {raw} has more than {RATE_DECIMAL_PLACES} decimal places"
    if value > RATE_MAX:
        return None, f"rate {raw} is too large (at most {RATE_MAX})"
    return value.quantize(RATE_QUANTUM), None


def _parse_instant(raw: str) -> tuple[datetime | None, str | None]:
    hint = (
        "use YYYY-MM-DD or an ISO datetime with offset, e.g. 2026-01-01T00:00:00+01:00"
    )
    if _DATE.match(raw):
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            return None, f"effective_from '{raw}' is not a valid date"
        return datetime.combine(day, time(0, 0), tzinfo=UTC), None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None, f"effective_from '{raw}' is not a date ({hint})"
    if value.tzinfo is None or value.utcoffset() is None:
        return None, f"effective_from '{raw}' has no UTC offset ({hint})"
    try:
        return value.astimezone(UTC), None
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        return None, f"effective_from '{raw}' is out of range"


def _read_header(reader) -> tuple[dict[str, int], list[str]]:
    """Map column name → index; the header must have exactly the COLUMNS."""
    expected = ", ".join(COLUMNS)
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        return {}, [f"line 1: the file has no header; expected {expected}"]
    names = [cell.strip().lower() for cell in header]
    problems = []
    missing = [c for c in COLUMNS if c not in names]
    unexpected = [n for n in names if n not in COLUMNS]
    repeated = sorted({n for n in names if n in COLUMNS and names.count(n) > 1})
    if missing:
        problems.append("missing " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected " + ", ".join(f"'{n}'" for n in unexpected))
    if repeated:
        problems.append("repeated " + ", ".join(repeated))
    if problems:
        return {}, [
            f"line {reader.line_num}: the header must be exactly {expected} "
            f"(in any order): {'; '.join(problems)}"
        ]
    return {name: names.index(name) for name in COLUMNS}, []


def rate_card_zones(*, card: RateCard) -> list[ZoneInfo]:
    """The billing time zones whose months a rate of ``card`` prices (C6): the
    company's for its card; for a price list, every company billed in its
    currency, and UTC (so the rule holds before any company exists)."""
    if card.company_id is not None:
        return [card.company.zone]
    zones = Company.objects.filter(billing_currency=card.currency).values_list(
        "billing_timezone", flat=True
    )
    return [ZoneInfo("UTC"), *(ZoneInfo(tz) for tz in sorted(set(zones)))]


@transaction.atomic
def rate_card_import(
    *, card: RateCard, text: str, actor: User | None, at: datetime | None = None
) -> int:
    """Append the rates of a CSV file to ``card``; return how many were created.

    All or nothing: every error of the file is collected with its line number and
    raised together as ``InvalidRateCard``; then nothing is imported. Rows equal
    to an existing rate are skipped, so importing the same file twice is harmless.

    A new rate may not take effect inside a month that has ended (C6, D2): it
    would reprice deliveries already invoiced (drafts customers see, or finalized
    invoices). The month is judged in the zone of every company the card prices
    (``rate_card_zones``; for a price list the strictest of them), with
    ``rules.open_from``. ``at`` is the instant the import is recorded at (now;
    the demo seeds its history as of the rates' start).
    """
    at = at or timezone.now()
    # Serialise imports into the same card, so the existing-rate check holds.
    card = rate_card_lock(card.pk)
    open_from = rules.open_from(at=at, zones=rate_card_zones(card=card))
    reader = csv.reader(
        io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True
    )
    columns, errors = _read_header(reader)
    if errors:
        raise InvalidRateCard(_summary(card, errors), errors=errors)

    markets = {m.name.lower(): m for m in Market.objects.all()}
    existing = {
        (r.market_id, r.category, r.effective_from): r.rate
        for r in Rate.objects.filter(card=card)
    }
    seen: dict[tuple[int, str, datetime], int] = {}
    new: list[Rate] = []
    for line, row in _rows(reader, errors):
        if not any(cell.strip() for cell in row):
            continue  # blank lines are allowed
        if len(row) != len(COLUMNS):
            errors.append(
                f"line {line}: expected {len(COLUMNS)} fields, found {len(row)}"
            )
            continue
        cells = {name: row[index].strip() for name, index in columns.items()}
        row_errors = []

        market = markets.get(cells["market"].lower())
        if market is None:
            row_errors.append(f"unknown market '{cells['market']}'")
        category = cells["category"].lower()
        if category not in CATEGORIES:
            row_errors.append(
                f"unknown category '{cells['category']}' (use {', '.join(CATEGORIES)})"
            )
        rate, problem = rate_parse(cells["rate"])
        if problem:
            row_errors.append(problem)
        if cells["currency"].upper() != card.currency:
            row_errors.append(
                f"currency '{cells['currency']}' does not match the card's "
                f"currency {card.currency}"
            )
        effective_from, problem = _parse_instant(cells["effective_from"])
        if problem:
            row_errors.append(problem)
        errors += [f"line {line}: {e}" for e in row_errors]
        if row_errors:
            continue

        key = (market.pk, category, effective_from)
        label = f"{market.name} {category} from {_instant_format(effective_from)}"
        if key in seen:
            errors.append(f"line {line}: duplicate of line {seen[key]} ({label})")
            continue
        seen[key] = line
        if key in existing:
            if existing[key] != rate:
                errors.append(
                    f"line {line}: {label} already has rate {existing[key]} on this "
                    f"card, not {rate}; rates are never edited: add a row with a "
                    "later effective_from"
                )
            continue  # the same rate again: nothing to do
        if effective_from < open_from:
            errors.append(
                f"line {line}: {label} would take effect in a month that has "
                f"ended; new rates take effect from {_instant_format(open_from)} on "
                "(the start of the month in progress), invoiced months are never "
                "repriced"
            )
            continue
        new.append(
            Rate(
                card=card,
                market=market,
                category=category,
                rate=rate,
                effective_from=effective_from,
                created_by=actor,
                created_at=at,
            )
        )
    if errors:
        raise InvalidRateCard(_summary(card, errors), errors=errors)
    Rate.objects.bulk_create(new)
    return len(new)


def _rows(reader, errors: list[str]):
    """Yield (line number, row); a malformed CSV stops with an error for its line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(f"line {reader.line_num}: not valid CSV ({exc})")
            return
        yield reader.line_num, row


def _summary(card: RateCard, errors: list[str]) -> str:
    n = len(errors)
    return (
        f"The file for {card} has {n} error{'s' if n != 1 else ''}; "
        "nothing was imported."
    )
