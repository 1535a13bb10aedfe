"""The composer's cost preview: what a send will cost if delivered now, from the
facts the charge of the delivered message will be computed from (C2-C6, F1-F3)
and the same rules (``rules.send_cost``). Tested equal to the charge the
delivered message gets (tests/billing/services/test_send_cost.py)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Case, IntegerField, Q, Value, When

from messaging import selectors as messaging_selectors
from messaging.models import Conversation, MessageTemplate

from .. import rules
from ..models import Charge, Market, Rate
from ..selectors.markets import markets_of_numbers
from ..selectors.pricing import policy_timeline, tier_sets


@dataclass(frozen=True)
class SendCostPreview:
    cost: rules.SendCost
    market: str  # the recipient's market (C6), e.g. "Spain"
    currency: str
    window_closes_at: datetime | None  # while the window is open (B1)
    position: int  # which charged message of its tier set this month (F3)


def _terms_at(company, at: datetime) -> rules.PolicyTerms:
    """F1: the policy in force at ``at``, as ``charges_sql`` picks its step."""
    terms = rules.CONTRACT_TERMS
    for step in policy_timeline(company=company):
        if step.since is None or step.since <= at:
            terms = step.terms
    return terms


def _market_at(wa_id: str, at: datetime) -> Market:
    """C6: the market of the recipient's number with the prefixes in force
    (``selectors.markets_of_numbers``). Read only: a market no row exists for
    yet (Other, before any charge made it) is returned unsaved, and has no rate."""
    name = markets_of_numbers(wa_ids=[wa_id], at=at)[wa_id]
    return Market.objects.filter(name=name).first() or Market(name=name)


def _rate_at(company, *, market: Market, category: str, at: datetime) -> Decimal | None:
    """C6: the rate in force at ``at``: the company's card first, else the
    price list default, in the company's billing currency."""
    return (
        Rate.objects.filter(
            market=market,
            category=category,
            effective_from__lte=at,
            card__currency=company.billing_currency,
        )
        .filter(Q(card__company=company) | Q(card__company__isnull=True))
        .annotate(
            default=Case(
                When(card__company__isnull=True, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .order_by("default", "-effective_from")
        .values_list("rate", flat=True)
        .first()
    )


def _charged_so_far(company, *, market: Market, category: str, at: datetime) -> int:
    """F3: how many charged messages of the market and category the month has
    had before ``at``: the month so far's charges, as ``usage_sync`` keeps them
    (within ``BILLING_USAGE_SYNC_DELAY`` seconds of each change, and the beat's
    sync for what a lost task left), plus those already on an invoice. A read
    only: no charge is derived here, nothing is written or locked (a preview is
    a GET of the composer), so a delivery not synced yet is not counted."""
    start, _end = rules.month_bounds(rules.month_of(at, company.zone), company.zone)
    return Charge.objects.filter(
        company=company,
        billable=True,
        market=market,
        category=category,
        delivered_at__gte=start,
        delivered_at__lt=at,
    ).count()


def send_cost_preview(
    *,
    conversation: Conversation,
    template: MessageTemplate | None,
    at: datetime,
) -> SendCostPreview:
    """What sending ``template`` (None: a free-form text) in ``conversation``
    will cost if it is delivered at ``at``: the category, the window (B1) and
    the free entry point (F2) at ``at``, the policy in force (F1), the
    recipient's market and rate (C6) and the volume tier the month's next
    charged message falls in (F3), answered by ``rules.send_cost``."""
    company = conversation.company
    category = template.category if template is not None else rules.SERVICE
    terms = _terms_at(company, at)
    window = messaging_selectors.window_state(conversation=conversation, at=at)
    entry_point = messaging_selectors.entry_point_free_for_send(
        conversation=conversation, at=at
    )
    market = _market_at(conversation.contact.wa_id, at)
    priced_as = rules.rate_category(category, terms)
    rate = (
        _rate_at(company, market=market, category=priced_as, at=at)
        if market.pk is not None
        else None
    )
    tiers = []
    position = 1
    # Whether it is charged at all decides if the tier position matters.
    first = rules.send_cost(
        category=category,
        window_open=window.is_open,
        entry_point=entry_point,
        rate=rate,
        terms=terms,
    )
    if first.billable and category in rules.TIERED_CATEGORIES:
        month = rules.month_of(at, company.zone)
        tiers = tier_sets(company=company, month=month).get((market.pk, category), [])
        if tiers:
            position = (
                _charged_so_far(company, market=market, category=category, at=at) + 1
            )
    cost = rules.send_cost(
        category=category,
        window_open=window.is_open,
        entry_point=entry_point,
        rate=rate,
        terms=terms,
        tiers=tiers,
        position=position,
    )
    return SendCostPreview(
        cost=cost,
        market=market.name,
        currency=company.billing_currency,
        window_closes_at=window.closes_at if window.is_open else None,
        position=position,
    )
