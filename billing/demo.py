"""Demo billing data: price lists, a negotiated card and the invoices of every
month of the demo's history (finalized, paid, open, a credit note, a draft).

Idempotent: rate cards are filled through ``rate_card_import`` (rows already on
a card are skipped), invoices through the billing run (drafts are recomputed,
finalized invoices are left alone). Run it after the messaging demo so its
traffic is invoiced.
"""

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from accounts.models import Company, User
from accounts.periods import month_bounds
from licensing.selectors import license_price_at

from . import rules
from .exceptions import InvalidPricing
from .models import ChargePolicy, Invoice, InvoiceLine, Market, RateCard
from .money import RATE_QUANTUM, quantize_money
from .policies import PROVIDER_2026_10
from .rules import previous_month
from .selectors import creditable_lines
from .services.credit_notes import credit_note_issue
from .services.documents import invoice_mark_paid
from .services.pricing import charge_policy_assign, volume_tiers_set
from .services.rate_cards import COLUMNS, rate_card_create, rate_card_import
from .services.runs import RunResult, billing_run_company

logger = logging.getLogger(__name__)

EFFECTIVE_FROM = datetime(2026, 1, 1, tzinfo=UTC)

# Price list per market in EUR: (marketing, utility, authentication), in the
# spirit of the provider's published per-message rates.
EUR_RATES = {
    "Argentina": ("0.0570", "0.0240", "0.0240"),
    "Brazil": ("0.0580", "0.0062", "0.0290"),
    "Chile": ("0.0820", "0.0185", "0.0185"),
    "Colombia": ("0.0115", "0.0002", "0.0007"),
    "Egypt": ("0.0990", "0.0050", "0.0060"),
    "France": ("0.1320", "0.0275", "0.0630"),
    "Germany": ("0.1260", "0.0510", "0.0700"),
    "India": ("0.0100", "0.0013", "0.0013"),
    "Indonesia": ("0.0380", "0.0184", "0.0280"),
    "Israel": ("0.0325", "0.0049", "0.0049"),
    "Italy": ("0.0640", "0.0276", "0.0276"),
    "Malaysia": ("0.0790", "0.0130", "0.0130"),
    "Mexico": ("0.0400", "0.0078", "0.0220"),
    "Netherlands": ("0.1470", "0.0460", "0.0460"),
    "Nigeria": ("0.0470", "0.0062", "0.0062"),
    "North America": ("0.0230", "0.0037", "0.0124"),
    "Other": ("0.0560", "0.0070", "0.0070"),
    "Pakistan": ("0.0435", "0.0050", "0.0050"),
    "Peru": ("0.0645", "0.0185", "0.0185"),
    "Rest of Africa": ("0.0207", "0.0038", "0.0038"),
    "Rest of Asia Pacific": ("0.0675", "0.0150", "0.0150"),
    "Rest of Central and Eastern Europe": ("0.0790", "0.0195", "0.0195"),
    "Rest of Latin America": ("0.0680", "0.0105", "0.0105"),
    "Rest of Middle East": ("0.0315", "0.0060", "0.0060"),
    "Rest of Western Europe": ("0.0545", "0.0280", "0.0280"),
    "Russia": ("0.0735", "0.0370", "0.0370"),
    "Saudi Arabia": ("0.0420", "0.0106", "0.0106"),
    "South Africa": ("0.0350", "0.0070", "0.0070"),
    "Spain": ("0.0615", "0.0200", "0.0300"),
    "Turkey": ("0.0100", "0.0048", "0.0048"),
    "United Arab Emirates": ("0.0355", "0.0145", "0.0145"),
    "United Kingdom": ("0.0485", "0.0202", "0.0331"),
}
CATEGORIES = rules.TEMPLATE_CATEGORIES
# The other price lists follow EUR at a demo exchange rate.
PRICE_LISTS = {"EUR": Decimal("1"), "MXN": Decimal("18"), "USD": Decimal("1.08")}

NEGOTIATED_COMPANY = "acme-iberia"
NEGOTIATED_NAME = "Acme Iberia negotiated 2026"
NEGOTIATED_EUR = {
    ("Spain", rules.MARKETING): "0.0550",
    ("Spain", rules.UTILITY): "0.0180",
    ("Spain", rules.AUTHENTICATION): "0.0270",
}


def _csv(rows: list[tuple[str, str, Decimal]], currency: str) -> str:
    day = EFFECTIVE_FROM.date().isoformat()
    lines = [",".join(COLUMNS)]
    lines += [
        f'"{market}",{category},{rate},{currency},{day}'
        for market, category, rate in rows
    ]
    return "\n".join(lines) + "\n"


def _card(*, company: Company | None, currency: str, name: str = "") -> RateCard:
    card = RateCard.objects.filter(company=company, currency=currency).first()
    return card or rate_card_create(company=company, currency=currency, name=name)


def price_list_rows(currency: str) -> list[tuple[str, str, Decimal]]:
    """Every market × category; markets without a demo rate get Other's."""
    factor = PRICE_LISTS[currency]
    rows = []
    for market in Market.objects.order_by("name").values_list("name", flat=True):
        eur = EUR_RATES.get(market, EUR_RATES[rules.OTHER_MARKET])
        for category, value in zip(CATEGORIES, eur, strict=True):
            rows.append(
                (market, category, (Decimal(value) * factor).quantize(RATE_QUANTUM))
            )
    return rows


# Drafts are finalized this long after their month ends, as the daily task does
# (BILLING_FINALIZE_GRACE_DAYS), and paid invoices two weeks after that.
FINALIZE_AFTER = timedelta(days=3, hours=3, minutes=30)
PAID_AFTER = timedelta(days=14)
CREDIT_REASON = "Goodwill: a license assigned on the 16th sent nothing this month."


def seed(
    *,
    actor: User | None,
    history_months: int = 1,
    paid: dict[str, tuple[int, ...]] | None = None,
) -> list[RunResult]:
    """Create the demo rate cards and invoice every month of the history.

    For each company, the ``history_months`` months before the last ended one
    are finalized as the daily task would have (``FINALIZE_AFTER`` their end,
    once; later runs leave them alone), and the last ended month stays a draft
    recomputed on every run. ``paid`` names, per company slug, which of those
    finalized months (0 = the oldest) were paid ``PAID_AFTER`` their
    finalization; the others stay open (overdue once their due date passes).
    The month before last of Acme gets a credit note. Returns what the billing
    runs did per company and month.
    """
    for currency in PRICE_LISTS:
        card = _card(company=None, currency=currency)
        # Recorded as of the rates' start: a rate may not take effect inside an
        # ended month, and the demo's history starts then (C6).
        rate_card_import(
            card=card,
            text=_csv(price_list_rows(currency), currency),
            actor=actor,
            at=EFFECTIVE_FROM,
        )
    acme = Company.objects.filter(slug=NEGOTIATED_COMPANY).first()
    if acme is not None and acme.billing_currency == "EUR":
        card = _card(company=acme, currency="EUR", name=NEGOTIATED_NAME)
        rows = [(m, c, Decimal(r)) for (m, c), r in NEGOTIATED_EUR.items()]
        rate_card_import(
            card=card, text=_csv(rows, "EUR"), actor=actor, at=EFFECTIVE_FROM
        )

    now = timezone.now()
    _pricing_seed(actor=actor, now=now)
    paid = paid or {}
    results = []
    for company in Company.objects.order_by("slug"):
        newer = previous_month(now, company.zone)
        months = [newer - relativedelta(months=n) for n in range(history_months, 0, -1)]
        # Oldest first, so each month's charges land on its own invoice (C7).
        for index, month in enumerate(months):
            _, end = month_bounds(month, company.zone)
            finalized_at = min(end + FINALIZE_AFTER, now)
            result = billing_run_company(
                company=company, month=month, finalize=True, at=finalized_at
            )
            results.append(result)
            invoice = result.invoice
            if invoice is None:
                continue
            if index in paid.get(company.slug, ()) and (
                invoice.status == Invoice.Status.FINALIZED
            ):
                invoice_mark_paid(
                    invoice=invoice, at=min(finalized_at + PAID_AFTER, now)
                )
        results.append(billing_run_company(company=company, month=newer, at=now))
        if company.slug == NEGOTIATED_COMPANY and months:
            _credit_note_seed(company=company, month=months[-1], actor=actor)
    for result in results:
        log = logger.info if result.ok else logger.warning
        log("Billing demo: %s", result)
    return results


def _credit_note_seed(*, company: Company, month, actor: User | None) -> None:
    """A credit note on the month before last: one month of one license."""
    invoice = Invoice.objects.filter(company=company, month=month).first()
    if invoice is None or not invoice.is_creditable or invoice.credit_notes.exists():
        return
    line = creditable_lines(invoice=invoice).filter(kind=InvoiceLine.Kind.LICENSE)
    line = line.first()
    if line is None:
        return
    price = license_price_at(company=company, at=invoice.period_start)
    amount = min(line.left, price if price is not None else line.left)
    if amount <= 0:
        return
    credit_note_issue(
        invoice=invoice,
        amounts={line.pk: quantize_money(amount, invoice.currency)},
        reason=CREDIT_REASON,
        actor=actor,
    )


POLICY_COMPANY = "globex-mx"
TIERS_EUR = [(1, "0.0180"), (3, "0.0120")]


def _pricing_seed(*, actor: User | None, now) -> None:
    """F1 and F3 in the demo: Globex on the provider's 2026-10 policy from the
    start of the newer month, Acme with graduated utility tiers in Spain.
    Skipped once done, or once those months are finalized."""
    globex = Company.objects.filter(slug=POLICY_COMPANY).first()
    if globex is not None and not globex.charge_policies.exists():
        month = previous_month(now, globex.zone)
        start, _ = month_bounds(month, globex.zone)
        try:
            charge_policy_assign(
                company=globex,
                policy=ChargePolicy.objects.get(name=PROVIDER_2026_10),
                effective_from=start,
                actor=actor,
                note="Demo: the provider's pricing of 2026-10.",
            )
        except (InvalidPricing, ChargePolicy.DoesNotExist) as exc:
            logger.warning("Billing demo: no policy switch: %s", exc)
    acme = Company.objects.filter(slug=NEGOTIATED_COMPANY).first()
    if acme is not None and not acme.volume_tiers.exists():
        older = previous_month(now, acme.zone) - relativedelta(months=1)
        try:
            volume_tiers_set(
                company=acme,
                market=Market.objects.get(name="Spain"),
                category=rules.UTILITY,
                effective_from=older,
                tiers=TIERS_EUR,
                actor=actor,
            )
        except InvalidPricing as exc:
            logger.warning("Billing demo: no volume tiers: %s", exc)
