"""F3 volume tiers, as the feature states them.

Optional graduated tiers per (company, market, category, month) for utility and
authentication: each tier's rate applies only to the charged messages inside
that tier; free messages do not count; counts reset monthly in the company
time zone.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.exceptions import DomainError
from billing import rules
from billing.models import Charge, InvoiceLine, Market, VolumeTier
from billing.money import quantize_money
from billing.services import volume_tiers_set
from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
H = timedelta(hours=1)
D = Decimal
RATES = {
    ("Spain", "marketing"): "0.0615",
    ("Spain", "utility"): "0.0300",
    ("Spain", "authentication"): "0.0400",
    ("France", "utility"): "0.0300",
}
# Messages 1-2 at the card's 0.0300, 3-4 at 0.0200, 5 on at 0.0100.
TIERS = [(3, "0.0200"), (5, "0.0100")]


def tiers(world, *, category="utility", market="Spain", month=OCT, rows=TIERS):
    return volume_tiers_set(
        company=world.company,
        market=Market.objects.get(name=market),
        category=category,
        effective_from=month,
        tiers=rows,
        actor=None,
    )


@pytest.fixture
def world(client):
    rate_card(rates=RATES, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    return World(client, start=T)


def utility_outside_window(world, n, start, step=2 * H):
    return [world.send_and_deliver("utility", start + i * step) for i in range(n)]


def rates_of(messages):
    return [Charge.objects.get(message=m).rate for m in messages]


def usage(invoice):
    return [
        (
            line.quantity,
            line.unit_price,
            line.amount,
            line.details.get("tier_from_message"),
        )
        for line in invoice.lines.filter(kind=InvoiceLine.Kind.USAGE).order_by(
            "position"
        )
    ]


def test_f3_each_tier_rate_applies_only_to_the_messages_inside_it(world):
    tiers(world)
    sent = utility_outside_window(world, 6, T)
    invoice = world.invoice(OCT)
    assert rates_of(sent) == [D("0.03")] * 2 + [D("0.02")] * 2 + [D("0.01")] * 2
    assert usage(invoice) == [
        (2, D("0.03"), D("0.06"), None),
        (2, D("0.02"), D("0.04"), 3),
        (2, D("0.01"), D("0.02"), 5),
    ]
    assert invoice.total == D("0.12")


def test_f3_free_messages_do_not_count(world):
    tiers(world)
    paid = utility_outside_window(world, 2, T)
    world.contact_writes(T + 10 * H)
    free = utility_outside_window(world, 3, T + 11 * H, step=H)  # inside the window
    later = utility_outside_window(world, 2, T + 40 * H)  # the window has closed
    marketing = world.send_and_deliver("marketing", T + 50 * H)  # another category
    world.invoice(OCT)
    assert all(not Charge.objects.get(message=m).billable for m in free)
    assert rates_of(paid + later) == [D("0.03"), D("0.03"), D("0.02"), D("0.02")]
    assert rates_of([marketing]) == [D("0.0615")]


def test_f3_counts_reset_monthly_in_the_company_time_zone(client):
    rate_card(rates=RATES, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    world = World(client, start=T, tz="America/New_York")
    tiers(world, rows=[(2, "0.0100")])
    # 2026-10-31 22:00 and 23:30 in New York are still October there ...
    october = [
        world.send_and_deliver("utility", datetime(2026, 11, 1, 2, 0, tzinfo=UTC)),
        world.send_and_deliver("utility", datetime(2026, 11, 1, 3, 30, tzinfo=UTC)),
    ]
    # ... 00:30 on November 1st in New York starts November's count.
    november = [
        world.send_and_deliver("utility", datetime(2026, 11, 1, 4, 30, tzinfo=UTC)),
        world.send_and_deliver("utility", datetime(2026, 11, 1, 6, 0, tzinfo=UTC)),
    ]
    world.invoice(OCT)
    world.invoice(NOV)
    assert rates_of(october) == [D("0.03"), D("0.01")]
    assert rates_of(november) == [D("0.03"), D("0.01")]


def test_f3_tiers_belong_to_one_market_and_category(world):
    tiers(world)
    spain = utility_outside_window(world, 3, T)
    world.wa_id, world.conversation = "33612345678", None
    france = utility_outside_window(world, 3, T + 20 * H)
    world.invoice(OCT)
    assert rates_of(spain)[-1] == D("0.02")
    assert rates_of(france) == [D("0.03")] * 3


def test_f3_a_tier_set_applies_from_its_month_until_a_later_set(world):
    tiers(world, rows=[(1, "0.0250")])
    tiers(world, month=NOV, rows=[(1, "0.0150")])
    october = utility_outside_window(world, 1, T)
    november = utility_outside_window(world, 1, datetime(2026, 11, 3, tzinfo=UTC))
    world.invoice(OCT)
    world.invoice(NOV)
    assert rates_of(october + november) == [D("0.025"), D("0.015")]


def test_f3_late_deliveries_continue_their_months_count_when_carried_over(world):
    tiers(world)
    utility_outside_window(world, 4, T)  # messages 1-4 of October
    late = world.send_template("utility", T + 20 * H)
    october = world.finalize(world.invoice(OCT))
    assert october.total == D("0.10")
    # Delivered in October, known after October was finalized: message 5 of October.
    world.deliver(late, T + 20 * H + 5 * 60 * timedelta(seconds=1))
    november = world.invoice(NOV)
    line = november.lines.get(kind=InvoiceLine.Kind.CARRIED_OVER)
    assert (line.quantity, line.unit_price, line.original_month) == (1, D("0.01"), OCT)


def test_f3_recompute_gives_the_same_invoice(world):
    tiers(world)
    utility_outside_window(world, 7, T)
    first = usage(world.invoice(OCT))
    assert usage(world.invoice(OCT)) == first


def test_f3_tiers_cannot_start_in_a_finalized_month_or_outside_their_categories(world):
    world.finalize(world.invoice(OCT))
    with pytest.raises(DomainError, match="finalized"):
        tiers(world)
    with pytest.raises(DomainError, match="utility and authentication"):
        tiers(world, category="marketing", month=NOV)
    with pytest.raises(DomainError, match="first day"):
        tiers(world, month=date(2026, 11, 2))
    with pytest.raises(DomainError, match="same message"):
        tiers(world, month=NOV, rows=[(3, "0.01"), (3, "0.02")])
    assert not VolumeTier.objects.exists()


def test_f3_customer_success_enters_a_tier_set_in_the_admin(client, world, cs_user):
    client.force_login(cs_user)
    response = client.post(
        reverse("admin:billing_volumetier_add"),
        {
            "company": world.company.pk,
            "market": Market.objects.get(name="Spain").pk,
            "category": "authentication",
            "effective_from": "2026-10-01",
            "tiers": "1, 0.0350\n1001, 0.0300",
        },
    )
    assert response.status_code == 302, response.content
    assert list(
        VolumeTier.objects.values_list("from_message", "rate", "created_by")
    ) == [(1, D("0.0350"), cs_user.pk), (1001, D("0.0300"), cs_user.pk)]
    response = client.post(
        reverse("admin:billing_volumetier_add"),
        {
            "company": world.company.pk,
            "market": Market.objects.get(name="Spain").pk,
            "category": "authentication",
            "effective_from": "2026-10-01",
            "tiers": "1, 0.03500001",
        },
    )
    assert response.status_code == 200
    assert "decimal places" in response.content.decode()
    assert VolumeTier.objects.count() == 2


def test_f3_the_portal_shows_tiers_and_the_messages_of_each_tier_line(client, world):
    tiers(world)
    utility_outside_window(world, 5, T)
    invoice = world.invoice(OCT)
    client.force_login(CompanyAdminFactory(company=world.company))
    pricing = client.get(reverse("billing:pricing")).content.decode()
    assert 'data-testid="tiers"' in pricing
    detail = client.get(reverse("billing:invoice", args=[invoice.pk])).content.decode()
    assert "volume tier from message 3 of the month" in detail
    line = invoice.lines.get(details__tier_from_message=3)
    page = client.get(reverse("billing:invoice-line", args=[invoice.pk, line.pk]))
    assert page.content.decode().count("0.0200") >= 2
    assert len(page.context["table"].rows) == 2


@settings(max_examples=200, deadline=None)
@given(
    starts=st.lists(st.integers(1, 30), min_size=1, max_size=4, unique=True),
    rates=st.lists(st.integers(0, 500), min_size=4, max_size=4),
    count=st.integers(0, 40),
    offset=st.integers(0, 10),
)
def test_f3_graduated_total_is_the_sum_of_each_tier_times_its_messages(
    starts, rates, count, offset
):
    """Pure rules: the spans ``tiers_apply`` prices with one UPDATE each give
    every message the tier ``tier_for`` gives it, one by one."""
    card = D("0.0300")
    tier_list = [
        rules.Tier(from_message=s, rate=D(r) / 10000)
        for s, r in zip(starts, rates, strict=False)
    ]
    one_by_one = [rules.tier_for(offset + i + 1, tier_list) for i in range(count)]
    by_span: list = [None] * count
    for tier, lo, hi in rules.tier_spans(tier_list, already=offset, count=count):
        assert by_span[lo:hi] == [None] * (hi - lo)  # spans never overlap
        by_span[lo:hi] = [tier] * (hi - lo)
    assert by_span == one_by_one
    total = sum(((t.rate if t else card) for t in by_span), D(0))
    assert quantize_money(total, "EUR") == quantize_money(
        sum(((t.rate if t else card) for t in one_by_one), D(0)), "EUR"
    )


def test_f3_an_empty_set_ends_the_tiers_from_its_month_through_the_service(world):
    # given tiers from October, ended from November
    tiers(world, rows=[(1, "0.0100")])
    assert tiers(world, month=NOV, rows=[]) == []
    october = utility_outside_window(world, 2, T)
    november = utility_outside_window(world, 2, T + timedelta(days=31))
    # then October is billed with the tier, November at the rate card
    world.invoice(OCT)
    world.invoice(NOV)
    assert rates_of(october) == [D("0.0100")] * 2
    assert rates_of(november) == [D("0.0300")] * 2
    assert [tier.from_message for tier in tiers_in_force(world.company, NOV)] == []
    # and tiers can start again later
    tiers(world, month=date(2026, 12, 1), rows=[(1, "0.0050")])
    assert [t.rate for t in tiers_in_force(world.company, date(2026, 12, 1))] == [
        D("0.0050")
    ]


def tiers_in_force(company, month):
    from billing.selectors import tiers_in_force as read

    return read(company=company, month=month)


def test_f3_customer_success_ends_a_tier_set_in_the_admin(client, world, cs_user):
    # given tiers from October
    tiers(world, rows=[(1, "0.0100")])
    client.force_login(cs_user)
    form = {
        "company": world.company.pk,
        "market": Market.objects.get(name="Spain").pk,
        "category": "utility",
        "effective_from": "2026-11-01",
    }
    url = reverse("admin:billing_volumetier_add")
    # neither tiers nor the end option, or both: refused, nothing saved
    for extra in ({"tiers": ""}, {"tiers": "1, 0.0200", "end_tiers": "on"}):
        refused = client.post(url, {**form, **extra})
        assert refused.status_code == 200
        assert refused.context["adminform"].form.non_field_errors()
    assert VolumeTier.objects.count() == 1
    # when CS ends them from November
    response = client.post(url, {**form, "tiers": "", "end_tiers": "on"})
    assert response.status_code == 302, response.content
    # then October keeps its tier, November is at the rate card
    october = utility_outside_window(world, 1, T)
    november = utility_outside_window(world, 1, T + timedelta(days=31))
    world.invoice(OCT)
    world.invoice(NOV)
    assert rates_of(october + november) == [D("0.0100"), D("0.0300")]
