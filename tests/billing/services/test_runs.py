"""manage.py run_billing (billing/runs.py)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client

from billing.models import BillingRun, Invoice, InvoiceLine
from billing.services.runs import billing_run, month_parse
from licensing.services import license_count_set, license_price_set
from tests.billing_world import World, rate_card
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def acme():
    """A company with 2 licenses at 10 EUR and three delivered marketing templates."""
    rate_card(
        rates={("Spain", "marketing"): "0.0615"},
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    company = CompanyFactory(slug="acme-iberia", name="Acme Iberia")
    world = World(Client(), start=T, company=company, license_price=Decimal("10"))
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        license_count_set(company=company, quantity=2, actor=None)
    for i in range(3):
        world.send_and_deliver("marketing", T + timedelta(hours=i))
    return company


@pytest.fixture
def globex():
    """A company billed in MXN, for which no rate exists: its usage cannot be priced."""
    company = CompanyFactory(slug="globex-mx", billing_currency="MXN")
    world = World(Client(), start=T, company=company, wa_id="5215512345678")
    world.send_and_deliver("marketing", T)
    return company


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("run_billing", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prints_what_was_done_per_company_and_a_summary(acme):
    CompanyFactory(slug="zeta")
    out, err = run("--month", "2026-10")
    # 2 × 10.00 licenses + 3 × 0.0615 = 0.1845 → 0.18
    assert out.splitlines() == [
        "acme-iberia 2026-10: draft created, total 20.18 EUR",
        "zeta 2026-10: draft created, total 0.00 EUR",
        "2 companies: 2 draft created",
    ]
    assert err == ""


def test_is_idempotent_run_twice_gives_one_invoice(acme):
    run("--month", "2026-10")
    out, _ = run("--month", "2026-10")
    assert (
        out.splitlines()[0] == "acme-iberia 2026-10: draft recomputed, total 20.18 EUR"
    )
    assert Invoice.objects.filter(company=acme, month=OCT).count() == 1
    assert InvoiceLine.objects.filter(invoice__company=acme).count() == 2
    assert BillingRun.objects.filter(status="done").count() == 2


def test_finalize_numbers_the_invoice_and_later_runs_leave_it_alone(acme):
    out, _ = run("--month", "2026-10", "--finalize")
    assert out.splitlines()[0] == (
        "acme-iberia 2026-10: finalized INV-2026-000001, total 20.18 EUR"
    )
    invoice = Invoice.objects.get(company=acme, month=OCT)
    assert (invoice.status, invoice.number) == ("finalized", "INV-2026-000001")
    again, _ = run("--month", "2026-10", "--finalize")
    assert again.splitlines()[0] == (
        "acme-iberia 2026-10: already finalized as INV-2026-000001, left unchanged, "
        "total 20.18 EUR"
    )
    assert again.splitlines()[-1] == "1 company: 1 left unchanged"
    assert Invoice.objects.filter(company=acme).count() == 1


def test_company_limits_the_run(acme):
    other = CompanyFactory(slug="other")
    out, _ = run("--month", "2026-10", "--company", "acme-iberia")
    assert out.splitlines() == [
        "acme-iberia 2026-10: draft created, total 20.18 EUR",
        "1 company: 1 draft created",
    ]
    assert not Invoice.objects.filter(company=other).exists()


def test_a_failing_company_is_reported_the_others_are_billed_and_the_exit_is_nonzero(
    acme, globex
):
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as info:
        call_command("run_billing", "--month", "2026-10", stdout=out, stderr=err)
    assert str(info.value) == (
        "2 companies: 1 draft created, 1 failed. See the errors above."
    )
    assert out.getvalue().splitlines() == [
        "acme-iberia 2026-10: draft created, total 20.18 EUR"
    ]
    assert err.getvalue().strip() == (
        f"globex-mx 2026-10: failed: {globex.name} has charged messages without a "
        "rate in MXN: marketing in Mexico. Add the rates to the company's or the "
        "price list's rate card."
    )
    assert Invoice.objects.filter(company=acme, month=OCT).exists()
    assert BillingRun.objects.get().status == "failed"


def test_the_exit_code_is_nonzero_from_the_shell(acme, globex):
    from django.core.management import ManagementUtility

    utility = ManagementUtility(["manage.py", "run_billing", "--month", "2026-10"])
    with pytest.raises(SystemExit) as info:
        utility.execute()
    assert info.value.code == 1


# 1 December 00:30 in Madrid = 30 November 23:30 UTC: November has ended in Madrid,
# not in UTC nor in Mexico City.
EDGE = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
NOV = date(2026, 11, 1)


def _zones():
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        return {
            tz: CompanyFactory(slug=slug, billing_timezone=tz)
            for slug, tz in (
                ("madrid", "Europe/Madrid"),
                ("utc-co", "UTC"),
                ("mexico", "America/Mexico_City"),
            )
        }


def test_a_month_in_progress_in_the_company_zone_is_refused_and_nothing_is_created():
    companies = _zones()
    with time_machine.travel(EDGE, tick=False), pytest.raises(CommandError) as info:
        run("--month", "2026-11", "--company", "utc-co")
    assert str(info.value) == (
        "November 2026 has not ended yet in UTC: it ends on 2026-12-01 00:00 there "
        "(2026-12-01 00:00 UTC); nothing was computed."
    )
    assert not Invoice.objects.exists() and not BillingRun.objects.exists()
    # the same instant, Madrid's November has ended
    with time_machine.travel(EDGE, tick=False):
        out, _ = run("--month", "2026-11", "--company", "madrid")
    assert out.splitlines()[0] == "madrid 2026-11: draft created, total 0.00 EUR"
    assert Invoice.objects.get().company == companies["Europe/Madrid"]


def test_the_month_edge_itself_counts_as_ended():
    _zones()
    # one second before 1 December 00:00 in Madrid, then exactly then
    before = datetime(2026, 11, 30, 22, 59, 59, tzinfo=UTC)
    with (
        time_machine.travel(before, tick=False),
        pytest.raises(CommandError, match="has not ended yet in Europe/Madrid"),
    ):
        run("--month", "2026-11", "--company", "madrid")
    assert not Invoice.objects.exists()
    with time_machine.travel(datetime(2026, 11, 30, 23, 0, tzinfo=UTC), tick=False):
        run("--month", "2026-11", "--company", "madrid")
    assert Invoice.objects.filter(month=NOV).count() == 1


def test_without_company_the_companies_whose_month_has_not_ended_are_skipped():
    companies = _zones()
    with time_machine.travel(EDGE, tick=False):
        out, err = run("--month", "2026-11")
    assert err == ""
    assert out.splitlines() == [
        "madrid 2026-11: draft created, total 0.00 EUR",
        "mexico 2026-11: skipped: November 2026 has not ended yet in "
        "America/Mexico_City: it ends on 2026-12-01 00:00 there (2026-12-01 06:00 "
        "UTC); nothing was computed.",
        "utc-co 2026-11: skipped: November 2026 has not ended yet in UTC: it ends on "
        "2026-12-01 00:00 there (2026-12-01 00:00 UTC); nothing was computed.",
        "3 companies: 1 draft created, 2 skipped (month not ended)",
    ]
    (invoice,) = Invoice.objects.all()
    assert invoice.company == companies["Europe/Madrid"]


def test_a_month_that_has_ended_nowhere_is_refused_and_nothing_is_created(acme):
    # 10 November: November is in progress everywhere, December has not started
    for month in ("2026-11", "2026-12"):
        with pytest.raises(CommandError, match="has not ended yet in any company"):
            run("--month", month, "--finalize")
    assert not Invoice.objects.exists() and not BillingRun.objects.exists()


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "October", "2026-10-01", ""])
def test_a_bad_month_is_a_command_error(month):
    with pytest.raises(CommandError) as info:
        run("--month", month)
    assert str(info.value) == (
        f"--month: '{month}' is not a month: use YYYY-MM, for example 2026-10."
    )
    assert not BillingRun.objects.exists()


def test_an_unknown_company_is_a_command_error():
    with pytest.raises(CommandError, match="no company with slug 'nope'"):
        run("--month", "2026-10", "--company", "nope")


def test_without_month_each_company_gets_its_previous_month_in_its_zone():
    # 1 November 02:00 UTC: 11:00 in Tokyo, still 31 October in Honolulu
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        CompanyFactory(slug="tokyo", billing_timezone="Asia/Tokyo")
        CompanyFactory(slug="honolulu", billing_timezone="Pacific/Honolulu")
    with time_machine.travel(datetime(2026, 11, 1, 2, tzinfo=UTC), tick=False):
        out, _ = run()
    assert out.splitlines() == [
        "honolulu 2026-09: draft created, total 0.00 EUR",
        "tokyo 2026-10: draft created, total 0.00 EUR",
        "2 companies: 2 draft created",
    ]


def test_month_parse():
    assert month_parse(" 2026-02 ") == date(2026, 2, 1)
    with pytest.raises(ValueError, match="use YYYY-MM"):
        month_parse("2026-00")


def test_a_missing_license_price_is_reported_and_a_later_run_succeeds():
    # given licenses since January and no price at all
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        company = CompanyFactory(slug="no-price", billing_currency="USD")
        license_count_set(company=company, quantity=1, actor=None)
    # when
    (result,) = billing_run(month=OCT, company=company)
    # then
    assert str(result) == (
        "no-price 2026-10: failed: No license price for Company "
        f"{company.name.split()[-1]} in USD on 2026-10-01: set a negotiated price "
        "or a price list default."
    )
    assert not Invoice.objects.exists()  # the failed compute rolled back
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        license_price_set(company=None, currency="USD", monthly_amount="5", actor=None)
    (result,) = billing_run(month=OCT, company=company)
    assert str(result) == "no-price 2026-10: draft created, total 5.00 USD"


def test_price_and_licenses_set_together_mid_day_can_be_billed():
    # given a new company set up at 13:00 with its price and licenses
    with time_machine.travel(datetime(2026, 10, 15, 13, 0, tzinfo=UTC), tick=False):
        company = CompanyFactory(slug="new-co")
        license_price_set(
            company=company, currency="EUR", monthly_amount="31", actor=None
        )
        license_count_set(company=company, quantity=1, actor=None)
    # when October is billed
    (result,) = billing_run(month=OCT, company=company)
    # then 17 license-days (15-31 October) at 31 EUR a month are charged
    assert str(result) == "new-co 2026-10: draft created, total 17.00 EUR"
