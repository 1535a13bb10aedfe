"""The billing demo data (billing/demo.py), loaded by ``manage.py demo_seed``."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from accounts.models import Company, User
from billing import demo
from billing.models import (
    Charge,
    CreditNote,
    Invoice,
    InvoiceLine,
    Market,
    Rate,
    RateCard,
)
from billing.services.runs import Outcome
from licensing.selectors import idle_licenses_by_company
from tests import whatsapp
from tests.billing_world import World
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
JUL, AUG = date(2026, 7, 1), date(2026, 8, 1)
SEP, OCT = date(2026, 9, 1), date(2026, 10, 1)


@pytest.fixture(autouse=True)
def _now(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    with time_machine.travel(NOW, tick=False):
        yield


def demo_seed():
    # Statuses of today's sends arrive after commit, as the sandbox provider sends them.
    with whatsapp.on_commit():
        call_command("demo_seed", stdout=StringIO())


def _traffic(*, company=None, wa_id="34600111222") -> World:
    """Delivered templates in September and October, through the real webhook."""
    world = World(Client(), start=datetime(2026, 9, 10, tzinfo=UTC), company=company)
    world.wa_id = wa_id
    for start in (
        datetime(2026, 9, 10, tzinfo=UTC),
        datetime(2026, 10, 10, tzinfo=UTC),
    ):
        world.send_and_deliver("marketing", start)
        world.send_and_deliver("utility", start + timedelta(hours=1))
    return world


def _snapshot():
    return sorted(
        Invoice.objects.values_list(
            "company__slug", "month", "status", "number", "total"
        )
    )


def test_demo_seed_twice_leaves_one_invoice_per_company_and_month():
    # given a company with traffic besides the demo companies
    traffic = _traffic(company=CompanyFactory(slug="traffic-co"))
    # when
    demo_seed()
    first = _snapshot()
    demo_seed()
    # then every month of the history is invoiced once: the older ones
    # finalized (some paid), the last ended month a draft
    companies = Company.objects.count()
    assert companies >= 3
    assert Invoice.objects.count() == 4 * companies
    assert {(m, s) for _, m, s, _, _ in first} >= {
        (JUL, "paid"),
        (AUG, "finalized"),
        (SEP, "finalized"),
        (OCT, "draft"),
    }
    assert {m for _, m, s, _, _ in first if s == "draft"} == {OCT}
    assert _snapshot() == first  # the rerun changed nothing
    assert Invoice.objects.filter(number__isnull=False).count() == 3 * companies
    for invoice in Invoice.objects.all():
        if Charge.objects.filter(invoice=invoice, billable=True).exists():
            assert invoice.total > 0, invoice
    sep, oct_ = (
        Invoice.objects.get(company=traffic.company, month=month)
        for month in (SEP, OCT)
    )
    # one marketing (0.0615) and one utility (0.0200) template in each month
    assert (sep.total, oct_.total) == (Decimal("0.08"), Decimal("0.08"))


def test_demo_rate_cards_cover_every_market_and_category_in_three_currencies():
    demo_seed()
    demo_seed()
    markets = Market.objects.count()
    for currency in ("EUR", "MXN", "USD"):
        card = RateCard.objects.get(company=None, currency=currency)
        assert card.rates.count() == markets * 3
        assert set(card.rates.values_list("effective_from", flat=True)) == {
            datetime(2026, 1, 1, tzinfo=UTC)
        }
    spain = Market.objects.get(name="Spain")

    def rate(currency, category, company=None):
        return Rate.objects.get(
            card__company=company,
            card__currency=currency,
            market=spain,
            category=category,
        ).rate

    assert rate("EUR", "marketing") == Decimal("0.0615")
    assert rate("EUR", "utility") == Decimal("0.0200")
    assert rate("EUR", "authentication") == Decimal("0.0300")
    assert rate("MXN", "marketing") == Decimal("1.1070")  # 18 × EUR
    acme = Company.objects.get(slug="acme-iberia")
    assert rate("EUR", "marketing", acme) == Decimal("0.0550")
    assert RateCard.objects.get(company=acme).rates.count() == 3


def test_the_negotiated_card_prices_acme_spain_traffic():
    # given acme-iberia with Spanish traffic before any demo data
    acme = CompanyFactory(slug="acme-iberia", name="Acme Iberia S.L.")
    _traffic(company=acme)
    # when
    results = demo.seed(actor=None)
    # then
    assert [(r.company.slug, r.month, r.outcome) for r in results] == [
        ("acme-iberia", SEP, Outcome.FINALIZED),
        ("acme-iberia", OCT, Outcome.CREATED),
    ]
    assert set(
        Charge.objects.filter(company=acme, category="marketing").values_list(
            "rate", flat=True
        )
    ) == {Decimal("0.0550")}
    # each line rounded half-up (D1): 0.0550 → 0.06, 0.0180 → 0.02
    assert Invoice.objects.get(company=acme, month=OCT).total == Decimal("0.08")


def test_demo_billing_errors_are_reported_not_raised():
    # given a company in a currency without a price list, with priced traffic
    gbp = CompanyFactory(slug="pounds", billing_currency="GBP")
    _traffic(company=gbp)
    # when
    results = demo.seed(actor=None)
    # then
    assert [r.ok for r in results] == [False, False]
    assert "without a rate in GBP" in results[0].error
    assert not Invoice.objects.filter(company=gbp).exists()


def test_the_demo_shows_what_the_product_is_for():
    """At NOW (3 Nov): history from July, September is the month before last."""
    demo_seed()
    acme = Company.objects.get(slug="acme-iberia")
    globex = Company.objects.get(slug="globex-mx")
    sep = Invoice.objects.get(company=acme, month=SEP)
    # the count raised on the 15th is prorated on its invoice
    license_line = sep.lines.get(kind=InvoiceLine.Kind.LICENSE)
    assert license_line.description == (
        "WhatsApp licenses: 3 licenses for 14 days, 5 licenses for 16 days"
    )
    # real volumes: thousands of delivered templates across markets and categories
    charged = Charge.objects.filter(invoice=sep, billable=True)
    assert charged.count() > 2500
    assert charged.values("market").distinct().count() >= 8
    assert set(charged.values_list("category", flat=True)) == {
        "marketing",
        "utility",
        "authentication",
    }
    assert Charge.objects.filter(invoice=sep, billable=False).count() > 100
    assert sep.lines.filter(kind=InvoiceLine.Kind.USAGE).count() >= 20
    # a credit note on it, paid and open invoices
    note = CreditNote.objects.get(invoice=sep)
    assert note.total > 0
    assert Invoice.objects.get(company=acme, month=AUG).status == "paid"
    assert Invoice.objects.get(company=globex, month=JUL).status == "paid"
    # finalized long ago and never paid: overdue once it has a due date
    unpaid = Invoice.objects.get(company=globex, month=AUG)
    assert unpaid.status == "finalized"
    assert unpaid.finalized_at < NOW - timedelta(days=30)
    # an idle license: held since the day after the raise, nothing sent
    [idle] = idle_licenses_by_company(at=NOW, company=acme)
    assert [a.user.email for a in idle.assignments] == ["pablo@acme-iberia.example"]
    # the demo logins of the README
    for email in (
        "cs@example.com",
        "ana@acme-iberia.example",
        "luis@acme-iberia.example",
        "elena@acme-iberia.example",
        "carlos@globex.example",
    ):
        assert User.objects.get(email=email).check_password("demo-pass-2026"), email
