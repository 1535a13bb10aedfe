"""Billing writes: charges from messaging facts, invoices, finalization, credit notes.

Everything here is idempotent: recomputing a draft with the same facts gives
the same lines, and finalized invoices never change.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Length, Substr, TruncMonth
from django.utils import timezone

from accounts.locks import company_lock
from accounts.models import Company, User
from licensing import rules as license_rules
from licensing.selectors import license_count_history, license_price_history
from messaging.models import Message
from messaging.rules import CUSTOMER_SERVICE_WINDOW

from . import rules
from .exceptions import (
    InvalidCredit,
    InvalidTransition,
    LicensePriceMissing,
    RateMissing,
)
from .models import (
    Charge,
    CreditNote,
    CreditNoteLine,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    Market,
    MarketPrefix,
)
from .money import ZERO, quantize_money

logger = logging.getLogger(__name__)

# --- Charges (C1-C7) -------------------------------------------------------------


def _window_messages(*, conversation_ref: str, at_ref: str):
    """Inbound messages whose 24 h window is open at the outer row's instant (B1)."""
    return Message.objects.filter(
        conversation_id=OuterRef(conversation_ref),
        direction=Message.Direction.INBOUND,
        provider_timestamp__lte=OuterRef(at_ref),
        provider_timestamp__gt=OuterRef(at_ref) - Value(CUSTOMER_SERVICE_WINDOW),
    ).order_by("-provider_timestamp", "-id")


def _market_expression(*, wa_id_ref: str, at_ref: str):
    """C6: longest calling-code prefix of the recipient in force at the instant."""
    longest = (
        MarketPrefix.objects.values_list(Length("prefix"), flat=True)
        .order_by(-Length("prefix"))
        .first()
        or 1
    )
    candidates = Q()
    for n in range(1, longest + 1):
        candidates |= Q(prefix=Substr(OuterRef(wa_id_ref), 1, n))
    match = (
        MarketPrefix.objects.filter(candidates, effective_from__lte=OuterRef(at_ref))
        .filter(
            Q(effective_until__isnull=True) | Q(effective_until__gt=OuterRef(at_ref))
        )
        .order_by(-Length("prefix"), "-effective_from")
        .values("market_id")[:1]
    )
    other = Market.objects.get_or_create(name=rules.OTHER_MARKET)[0].pk
    return Coalesce(Subquery(match), Value(other), output_field=IntegerField())


def deliverable_templates(*, company: Company, until: datetime):
    """Delivered outbound templates of the company before ``until`` (C1, C5)."""
    return Message.objects.filter(
        company=company,
        direction=Message.Direction.OUTBOUND,
        template__isnull=False,
        delivered_at__isnull=False,
        delivered_at__lt=until,
    )


def charge_facts(*, company: Company, until: datetime):
    """Delivered templates without a charge yet, with the facts a charge needs:
    the recipient's market (C6) and the inbound message whose window was open
    at delivery (B1), if any. Each subquery appears once per row."""
    window = _window_messages(conversation_ref="conversation_id", at_ref="delivered_at")
    return (
        deliverable_templates(company=company, until=until)
        # Only this company's charges: during a run the table grows faster than
        # its statistics, and an anti-join against all of it would be scanned whole.
        .filter(
            ~Exists(Charge.objects.filter(company=company, message_id=OuterRef("pk")))
        )
        .order_by()  # the INSERT needs no order; skip the default sort
        .values(
            f_message=F("pk"),
            f_category=F("template_category"),
            f_delivered_at=F("delivered_at"),
            f_market=_market_expression(
                wa_id_ref="conversation__contact__wa_id", at_ref="delivered_at"
            ),
            f_window=Subquery(window.values("pk")[:1]),
        )
    )


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _charge_select(
    *, company: Company, until: datetime, invoice: Invoice | None
) -> tuple[str, list]:
    """SELECT of complete charge rows; the CASE is the SQL twin of rules.charge_for
    (C2-C4) and the rate subquery applies C6 (the company's card first)."""
    facts_sql, facts_params = charge_facts(
        company=company, until=until
    ).query.sql_with_params()
    invoice_sql, invoice_params = _invoice_column(company=company, invoice=invoice)
    r = rules.Reason
    rate_card_table, rate_table = _q("billing_ratecard"), _q("billing_rate")
    # An optimisation fence: without it the planner inlines the subqueries and
    # evaluates the window subquery once per reference (CASE, reason, join).
    fence = " OFFSET 0" if connection.vendor == "postgresql" else " LIMIT -1 OFFSET 0"
    sql = f"""
        SELECT x.f_message, %s, x.f_category, x.f_market, x.f_delivered_at, x.billable,
               x.reason, x.rate, CASE WHEN x.billable THEN x.rate ELSE 0 END, %s,
               x.f_window,
               (SELECT w.{_q("provider_timestamp")} FROM {_q("messaging_message")} w
                 WHERE w.{_q("id")} = x.f_window),
               %s, {invoice_sql}
        FROM (
            SELECT q.*,
                CASE WHEN q.f_category IN (%s, %s) THEN %s
                     WHEN q.f_category = %s AND q.f_window IS NOT NULL THEN %s
                     ELSE %s END AS billable,
                CASE WHEN q.f_category = %s THEN %s
                     WHEN q.f_category = %s THEN %s
                     WHEN q.f_category = %s AND q.f_window IS NOT NULL THEN %s
                     ELSE %s END AS reason,
                (SELECT rt.{_q("rate")} FROM {rate_table} rt
                   JOIN {rate_card_table} rc ON rc.{_q("id")} = rt.{_q("card_id")}
                  WHERE rt.{_q("market_id")} = q.f_market
                    AND rt.{_q("category")} = q.f_category
                    AND rt.{_q("effective_from")} <= q.f_delivered_at
                    AND rc.{_q("currency")} = %s
                    AND (rc.{_q("company_id")} = %s OR rc.{_q("company_id")} IS NULL)
                  ORDER BY CASE WHEN rc.{_q("company_id")} IS NULL THEN 1 ELSE 0 END,
                           rt.{_q("effective_from")} DESC
                  LIMIT 1) AS rate
            FROM ({facts_sql}{fence}) q{fence}
        ) x
    """  # noqa: S608 - identifiers are quoted constants, values are parameters
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params = [
        company.pk,
        company.billing_currency,
        now,
        *invoice_params,
        rules.MARKETING,
        rules.AUTHENTICATION,
        True,
        rules.UTILITY,
        False,
        True,
        rules.MARKETING,
        r.MARKETING,
        rules.AUTHENTICATION,
        r.AUTHENTICATION,
        rules.UTILITY,
        r.UTILITY_IN_WINDOW,
        r.UTILITY_NO_WINDOW,
        company.billing_currency,
        company.pk,
        *facts_params,
    ]
    return sql, params


CHARGE_COLUMNS = [
    "message_id",
    "company_id",
    "category",
    "market_id",
    "delivered_at",
    "billable",
    "reason",
    "rate",
    "amount",
    "currency",
    "window_message_id",
    "window_opened_at",
    "created_at",
    "invoice_id",
]


def _invoice_column(*, company: Company, invoice: Invoice | None) -> tuple[str, list]:
    """SQL for a new charge's invoice (C7): the draft being computed takes the
    charges delivered in its month, and the late ones of months whose invoice is
    already finalized (carried over). Charges of any other earlier month stay
    unbilled: they belong to their own month's invoice, drafted or not yet."""
    if invoice is None:
        return "NULL", []
    adapt = connection.ops.adapt_datetimefield_value
    frozen: list[list] = []
    for start, end in (
        Invoice.objects.filter(
            company=company,
            status__in=Invoice.FROZEN,
            period_end__lte=invoice.period_start,
        )
        .order_by("period_start")
        .values_list("period_start", "period_end")
    ):
        if frozen and frozen[-1][1] == start:
            frozen[-1][1] = end  # consecutive months make one range
        else:
            frozen.append([start, end])
    tests = ["x.f_delivered_at >= %s"] + [
        "(x.f_delivered_at >= %s AND x.f_delivered_at < %s)" for _ in frozen
    ]
    params = [adapt(invoice.period_start)] + [
        adapt(v) for period in frozen for v in period
    ]
    return f"CASE WHEN {' OR '.join(tests)} THEN %s ELSE NULL END", [
        *params,
        invoice.pk,
    ]


def charges_sync(*, company: Company, invoice: Invoice | None, until: datetime) -> int:
    """Derive one Charge per delivered template before ``until`` (set-based).

    Charges not yet on any invoice, or on ``invoice`` (a draft), are rebuilt
    from the facts, so a late inbound message re-classifies them (C3) and a
    new rate applies. Charges on other invoices are left alone; finalized ones
    are frozen forever. One INSERT … SELECT, which also puts each new charge on
    ``invoice`` (C7); ON CONFLICT makes overlaps harmless.
    """
    stale = Q(invoice__isnull=True)
    if invoice is not None:
        stale |= Q(invoice=invoice)
    Charge.objects.filter(stale, company=company).delete()
    select, params = _charge_select(company=company, until=until, invoice=invoice)
    columns = ", ".join(_q(c) for c in CHARGE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_q(Charge._meta.db_table)} ({columns}) {select} "  # noqa: S608
            # WHERE: SQLite needs one to parse INSERT … SELECT … ON CONFLICT.
            "WHERE 1 = 1 ON CONFLICT (message_id) DO NOTHING",
            params,
        )
        return cursor.rowcount


# --- License fee (A5) --------------------------------------------------------------


@dataclass(frozen=True)
class LicenseFee:
    amount: Decimal  # rounded to the currency (D1)
    license_days: int
    days_in_month: int
    segments: list[rules.LicenseSegment]

    @property
    def description(self) -> str:
        parts = [
            f"{s.count} license{'s' if s.count != 1 else ''} for {s.days} day{'s' if s.days != 1 else ''}"
            for s in self.segments
        ]
        return "WhatsApp licenses: " + ", ".join(parts)


_INSTANT = timedelta(microseconds=1)


def license_fee_compute(*, company: Company, month: date) -> LicenseFee:
    """A5: the month's license fee in the company's billing time zone."""
    history = license_count_history(company=company)
    prices = license_price_history(company=company)
    days = []
    for start, end in rules.month_days(month, company.zone):
        count = license_rules.count_max_between(history, start=start, end=end)
        # The price in force at the end of the day: a change during the day (or a
        # new company's first price) applies to that whole day, like its count.
        price = license_rules.value_in_force(prices, at=end - _INSTANT, default=None)
        if price is None:
            if count:
                raise LicensePriceMissing(
                    f"No license price for {company} in {company.billing_currency} on "
                    f"{start:%Y-%m-%d}: set a negotiated price or a price list default."
                )
            price = ZERO
        days.append(rules.LicenseDay(count=count, price=price))
    return LicenseFee(
        amount=quantize_money(rules.license_fee(days), company.billing_currency),
        license_days=sum(d.count for d in days),
        days_in_month=len(days),
        segments=rules.license_segments(days),
    )


# --- Invoices (D1-D3) ------------------------------------------------------------------


def _month_start(month: date) -> date:
    return date(month.year, month.month, 1)


def _usage_lines(invoice: Invoice, currency: str, zone) -> list[InvoiceLine]:
    """D1: one line per (category, market, rate): count × rate, rounded; carried-over
    charges (C7) get their own lines naming the month they were delivered in."""
    billable = Charge.objects.filter(invoice=invoice, billable=True)
    lines = []
    current = (
        billable.filter(delivered_at__gte=invoice.period_start)
        .values("category", "market_id", "market__name", "rate")
        .annotate(n=Count("id"))
        .order_by("category", "market__name", "rate")
    )
    for row in current:
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.USAGE,
                description=f"{row['category'].capitalize()} templates, {row['market__name']}",
                category=row["category"],
                market_id=row["market_id"],
                quantity=Decimal(row["n"]),
                unit_price=row["rate"],
                amount=quantize_money(row["rate"] * row["n"], currency),
            )
        )
    carried = (
        billable.filter(delivered_at__lt=invoice.period_start)
        .annotate(orig=TruncMonth("delivered_at", tzinfo=zone))
        .values("orig", "category", "market_id", "market__name", "rate")
        .annotate(n=Count("id"))
        .order_by("orig", "category", "market__name", "rate")
    )
    for row in carried:
        orig = row["orig"]
        orig_month = date(orig.year, orig.month, 1)
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.CARRIED_OVER,
                description=(
                    f"Carried over from {orig_month:%B %Y}: {row['category']} templates, "
                    f"{row['market__name']}"
                ),
                category=row["category"],
                market_id=row["market_id"],
                quantity=Decimal(row["n"]),
                unit_price=row["rate"],
                amount=quantize_money(row["rate"] * row["n"], currency),
                original_month=orig_month,
            )
        )
    return lines


def _invoice_recompute(*, company: Company, invoice: Invoice) -> Invoice:
    """Rebuild a draft's charges and lines from the facts. Caller holds the locks."""
    currency = company.billing_currency
    charges_sync(company=company, invoice=invoice, until=invoice.period_end)
    missing = list(
        Charge.objects.filter(invoice=invoice, billable=True, rate__isnull=True)
        .values_list("category", "market__name")
        .distinct()
        .order_by("category", "market__name")
    )
    if missing:
        names = "; ".join(f"{c} in {m}" for c, m in missing)
        raise RateMissing(
            f"{company} has charged messages without a rate in {currency}: {names}. "
            "Add the rates to the company's or the price list's rate card."
        )
    fee = license_fee_compute(company=company, month=invoice.month)
    lines = []
    if fee.license_days:
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.LICENSE,
                description=fee.description,
                quantity=Decimal(fee.license_days),
                unit_price=(fee.amount / fee.license_days).quantize(
                    Decimal("0.000001")
                ),
                amount=fee.amount,
                details={
                    "days_in_month": fee.days_in_month,
                    "segments": [
                        {"count": s.count, "days": s.days, "price": str(s.price)}
                        for s in fee.segments
                    ],
                },
            )
        )
    lines += _usage_lines(invoice, currency, company.zone)
    subtotal = rules.invoice_total(line.amount for line in lines)
    tax = rules.tax_amount(
        subtotal=subtotal, tax_rate=company.tax_rate, currency=currency
    )
    if company.tax_rate:
        lines.append(
            InvoiceLine(
                kind=InvoiceLine.Kind.TAX,
                description=f"Tax {company.tax_rate * 100:.2f} %",
                quantity=Decimal(1),
                unit_price=tax,
                amount=tax,
            )
        )
    for position, line in enumerate(lines):
        line.invoice = invoice
        line.position = position
    InvoiceLine.objects.filter(invoice=invoice).delete()
    InvoiceLine.objects.bulk_create(lines)
    invoice.currency = currency
    invoice.tax_rate = company.tax_rate
    invoice.subtotal = subtotal
    invoice.tax = tax
    invoice.total = rules.invoice_total(line.amount for line in lines)
    invoice.free_templates = Charge.objects.filter(
        invoice=invoice, billable=False
    ).count()
    invoice.computed_at = timezone.now()
    invoice.save()
    return invoice


@transaction.atomic
def invoice_compute(*, company: Company, month: date) -> Invoice:
    """Compute (or recompute) the company's draft invoice of ``month`` (D1-D3).

    Creates the draft once (unique per company and month), recomputes it from
    the facts every time, and leaves a finalized invoice untouched.
    """
    if connection.vendor == "postgresql":
        # A draft is derived state: if a crash loses this commit, the next run
        # recomputes the same draft. Finalizing stays fully durable.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
    company = company_lock(company)
    month = _month_start(month)
    start, end = rules.month_bounds(month, company.zone)
    invoice, _ = Invoice.objects.get_or_create(
        company=company,
        month=month,
        defaults={
            "period_start": start,
            "period_end": end,
            "currency": company.billing_currency,
            "tax_rate": company.tax_rate,
        },
    )
    if invoice.is_frozen:
        return invoice
    return _invoice_recompute(company=company, invoice=invoice)


@dataclass(frozen=True)
class InvoicePreview:
    invoice: Invoice
    lines: list[InvoiceLine]
    extra: object = None


def invoice_preview(*, company: Company, month: date, collect=None) -> InvoicePreview:
    """Compute the month so far with the same code as the invoice, then roll back.

    The preview equals the final invoice for the same facts, and nothing is saved.
    ``collect(invoice)`` may read more from the computed state before the rollback.
    """

    class _Rollback(Exception):
        pass

    result: list[InvoicePreview] = []
    try:
        with transaction.atomic():
            invoice = invoice_compute(company=company, month=month)
            result.append(
                InvoicePreview(
                    invoice=invoice,
                    lines=list(invoice.lines.select_related("market")),
                    extra=collect(invoice) if collect else None,
                )
            )
            raise _Rollback
    except _Rollback:
        pass
    return result[0]


def _sequence_next(kind: str, year: int) -> int:
    """Take the next number of a gapless sequence; rolls back with the caller."""
    try:
        with transaction.atomic():
            DocumentSequence.objects.get_or_create(kind=kind, year=year)
    except IntegrityError:
        pass  # created concurrently; the lock below serialises us
    sequence = DocumentSequence.objects.select_for_update(no_key=True).get(
        kind=kind, year=year
    )
    sequence.last_number = F("last_number") + 1
    sequence.save(update_fields=["last_number"])
    sequence.refresh_from_db(fields=["last_number"])
    return sequence.last_number


def _company_details(company: Company) -> dict:
    return {
        "name": company.name,
        "email": company.billing_email,
        "address": company.billing_address,
        "country": company.country,
        "timezone": company.billing_timezone,
    }


@transaction.atomic
def invoice_finalize(*, invoice: Invoice, at: datetime | None = None) -> Invoice:
    """D2: recompute a draft one last time, number it and freeze it."""
    at = at or timezone.now()
    company = company_lock(invoice.company_id)
    invoice = Invoice.objects.select_for_update(no_key=True).get(pk=invoice.pk)
    if invoice.status != Invoice.Status.DRAFT:
        raise InvalidTransition(
            f"{invoice} is {invoice.get_status_display().lower()}, not a draft."
        )
    if at < invoice.period_end:
        raise InvalidTransition(
            f"{invoice} covers a month that has not ended yet ({invoice.period_end:%Y-%m-%d %H:%M} UTC)."
        )
    _invoice_recompute(company=company, invoice=invoice)
    year = at.year
    invoice.number = f"INV-{year}-{_sequence_next('INV', year):06d}"
    invoice.status = Invoice.Status.FINALIZED
    invoice.finalized_at = at
    invoice.billing_details = _company_details(company)
    invoice.save()
    return invoice


def _transition(
    invoice: Invoice, *, allowed: tuple[str, ...], to: str, **fields
) -> Invoice:
    with transaction.atomic():
        locked = Invoice.objects.select_for_update(no_key=True).get(pk=invoice.pk)
        if locked.status not in allowed:
            raise InvalidTransition(
                f"{locked} is {locked.get_status_display().lower()}; it cannot become {to}."
            )
        locked.status = to
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save()
        return locked


def invoice_mark_paid(*, invoice: Invoice, at: datetime | None = None) -> Invoice:
    return _transition(
        invoice,
        allowed=(Invoice.Status.FINALIZED,),
        to=Invoice.Status.PAID,
        paid_at=at or timezone.now(),
    )


def invoice_void(
    *, invoice: Invoice, reason: str, at: datetime | None = None
) -> Invoice:
    """D2: void a finalized invoice; it keeps its number and its charges stay billed."""
    if not reason.strip():
        raise InvalidTransition("Say why the invoice is voided.")
    return _transition(
        invoice,
        allowed=(Invoice.Status.FINALIZED,),
        to=Invoice.Status.VOID,
        voided_at=at or timezone.now(),
        void_reason=reason.strip()[:300],
    )


@transaction.atomic
def credit_note_issue(
    *, invoice: Invoice, amounts: dict[int, Decimal], reason: str, actor: User | None
) -> CreditNote:
    """D2: correct a finalized invoice with a credit note referencing its lines.

    ``amounts`` maps invoice line ids to the amount credited (> 0, at most what is
    left of the line after earlier credit notes). Tax is credited at the
    invoice's rate.
    """
    invoice = Invoice.objects.select_for_update(no_key=True).get(pk=invoice.pk)
    if invoice.status not in (Invoice.Status.FINALIZED, Invoice.Status.PAID):
        raise InvalidCredit(
            "Only finalized or paid invoices are corrected by credit notes."
        )
    if not reason.strip():
        raise InvalidCredit("Say why the credit note is issued.")
    if not amounts:
        raise InvalidCredit("Credit at least one line.")
    lines = {
        line.pk: line
        for line in invoice.lines.exclude(kind=InvoiceLine.Kind.TAX).filter(
            pk__in=amounts
        )
    }
    note_lines = []
    currency = invoice.currency
    for line_id, raw in amounts.items():
        line = lines.get(line_id)
        if line is None:
            raise InvalidCredit(
                f"Line {line_id} is not a creditable line of {invoice}."
            )
        amount = quantize_money(Decimal(raw), currency)
        credited = sum((c.amount for c in line.credits.all()), ZERO)
        if amount <= 0 or amount > line.amount - credited:
            raise InvalidCredit(
                f"{line.description}: credit must be more than 0 and at most "
                f"{line.amount - credited} {currency}."
            )
        note_lines.append(
            CreditNoteLine(
                invoice_line=line, description=line.description, amount=amount
            )
        )
    subtotal = rules.invoice_total(n.amount for n in note_lines)
    tax = rules.tax_amount(
        subtotal=subtotal, tax_rate=invoice.tax_rate, currency=currency
    )
    year = timezone.now().year
    note = CreditNote.objects.create(
        invoice=invoice,
        number=f"CN-{year}-{_sequence_next('CN', year):06d}",
        reason=reason.strip()[:500],
        currency=currency,
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        created_by=actor,
    )
    for n in note_lines:
        n.credit_note = note
    CreditNoteLine.objects.bulk_create(note_lines)
    return note


# --- Runs (D3) ----------------------------------------------------------------------------


def previous_month(at: datetime, zone) -> date:
    """The last month that has fully ended at ``at`` in ``zone``."""
    return rules.month_of(at, zone) - relativedelta(months=1)


def companies_due(*, at: datetime) -> list[tuple[int, date]]:
    """D3: (company, month) pairs whose month has ended in the company's zone and
    whose invoice is not frozen yet."""
    due = []
    for company in Company.objects.all().only("pk", "billing_timezone"):
        month = previous_month(at, company.zone)
        due.append((company.pk, month))
    frozen = set(
        Invoice.objects.filter(
            status__in=Invoice.FROZEN, month__in={m for _, m in due}
        ).values_list("company_id", "month")
    )
    return [(pk, m) for pk, m in due if (pk, m) not in frozen]


def invoices_finalize_due(*, at: datetime, grace: timedelta) -> list[int]:
    """Drafts whose month ended more than ``grace`` ago (late webhooks have landed)."""
    return list(
        Invoice.objects.filter(status=Invoice.Status.DRAFT, period_end__lte=at - grace)
        .order_by("period_end", "pk")
        .values_list("pk", flat=True)
    )
