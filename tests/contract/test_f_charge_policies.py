"""F1 versioned billing policy, as the feature states it.

Which categories are charged inside and outside the customer service window is
data with effective dates, editable by Customer Success; the default is the
contract (C2-C5). The provider's change of 2026-10-01 (free-form "service"
messages and in-window utility templates charged at the market's utility rate)
is a policy a company is switched to from a date, without code changes; an
invoice spanning the change applies each policy to its own deliveries.
"""

from dataclasses import fields as dataclass_fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from accounts.exceptions import DomainError
from billing import rules
from billing.models import Charge, ChargePolicy, ChargePolicyAssignment, InvoiceLine
from billing.policies import PROVIDER_2026_10, STANDARD, policies_seed
from billing.services import (
    charge_policy_assign,
    charge_policy_create,
    charge_policy_update,
    invoice_finalize,
)
from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
SWITCH = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = Decimal
RATES = {
    ("Spain", "marketing"): "0.0615",
    ("Spain", "utility"): "0.0200",
    ("Spain", "authentication"): "0.0300",
}


@pytest.fixture
def world(client):
    policies_seed(policy_model=ChargePolicy, assignment_model=ChargePolicyAssignment)
    rate_card(rates=RATES, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    return World(client, start=T)


def provider_policy() -> ChargePolicy:
    return ChargePolicy.objects.get(name=PROVIDER_2026_10)


def in_window_traffic(world, at):
    """The contact writes, then the business answers free-form and with a utility
    template, both inside the window; returns (free-form, utility)."""
    world.contact_writes(at)
    text = world.send_text(at + H)
    world.deliver(text)
    utility = world.send_and_deliver("utility", at + 2 * H)
    return text, utility


def usage(invoice) -> dict:
    return {
        (line.category, line.unit_price): line.quantity
        for line in invoice.lines.filter(kind=InvoiceLine.Kind.USAGE)
    }


def test_f1_default_policy_is_the_contract(world):
    default = ChargePolicyAssignment.objects.get(company__isnull=True)
    assert default.policy.name == STANDARD
    text, utility = in_window_traffic(world, T)
    marketing = world.send_and_deliver("marketing", T + 3 * H)
    invoice = world.invoice(OCT)
    assert Charge.objects.filter(message=text).count() == 0  # C5: no charge at all
    assert Charge.objects.get(message=utility).reason == rules.Reason.UTILITY_IN_WINDOW
    assert Charge.objects.get(message=marketing).policy == default.policy
    assert invoice.total == D("0.06")  # one marketing template, 0.0615 rounded


def test_f1_policy_is_data_with_a_date_no_code_change(world):
    charge_policy_assign(
        company=world.company,
        policy=provider_policy(),
        effective_from=datetime(2026, 10, 1, tzinfo=UTC),
        actor=None,
    )
    text, utility = in_window_traffic(world, T)
    invoice = world.invoice(OCT)
    service = Charge.objects.get(message=text)
    assert (service.category, service.billable, service.reason) == (
        "service",
        True,
        rules.Reason.SERVICE,
    )
    assert service.rate == D("0.0200")  # the market's utility rate
    charged_utility = Charge.objects.get(message=utility)
    assert charged_utility.reason == rules.Reason.UTILITY_IN_WINDOW_CHARGED
    assert usage(invoice) == {("service", D("0.02")): 1, ("utility", D("0.02")): 1}
    assert invoice.total == D("0.04")


def test_f1_invoice_spanning_the_change_applies_each_policy_to_its_own_deliveries(
    world,
):
    charge_policy_assign(
        company=world.company,
        policy=provider_policy(),
        effective_from=SWITCH,
        actor=None,
    )
    before = in_window_traffic(world, SWITCH - 4 * H)  # delivered before the switch
    after = in_window_traffic(world, SWITCH + 24 * H)
    # A message sent before the switch but delivered after it follows the new policy.
    world.contact_writes(SWITCH - 30 * 60 * timedelta(seconds=1))
    straddling = world.send_template("utility", SWITCH - timedelta(minutes=10))
    world.deliver(straddling, SWITCH + timedelta(minutes=5))
    invoice = world.invoice(OCT)
    for message in before:
        assert Charge.objects.filter(message=message, billable=True).count() == 0
    for message in (*after, straddling):
        charge = Charge.objects.get(message=message)
        assert charge.billable and charge.policy == provider_policy()
    assert usage(invoice) == {("service", D("0.02")): 1, ("utility", D("0.02")): 2}


def test_f1_company_policy_wins_over_the_default_and_default_changes_reach_the_rest(
    client, world
):
    other = World(client, start=T, wa_id="34600999888")
    # From November the provider's policy is everyone's default ...
    charge_policy_assign(
        company=None,
        policy=provider_policy(),
        effective_from=datetime(2026, 11, 1, tzinfo=UTC),
        actor=None,
    )
    # ... but this company negotiated to stay on the contract's rules.
    charge_policy_assign(
        company=world.company,
        policy=ChargePolicy.objects.get(name=STANDARD),
        effective_from=datetime(2026, 10, 20, tzinfo=UTC),
        actor=None,
    )
    nov = datetime(2026, 11, 3, 9, tzinfo=UTC)
    mine = in_window_traffic(world, nov)
    theirs = in_window_traffic(other, nov)
    world.invoice(NOV)
    other.invoice(NOV)
    assert not Charge.objects.filter(message__in=mine, billable=True).exists()
    assert Charge.objects.filter(message__in=theirs, billable=True).count() == 2


def test_f1_finalized_invoices_keep_their_policy_and_the_past_cannot_be_switched(
    world,
):
    in_window_traffic(world, T)
    october = world.finalize(world.invoice(OCT))
    total = october.total
    with pytest.raises(DomainError, match="finalized"):
        charge_policy_assign(
            company=world.company,
            policy=provider_policy(),
            effective_from=datetime(2026, 10, 1, tzinfo=UTC),
            actor=None,
        )
    assert not ChargePolicyAssignment.objects.filter(company=world.company).exists()
    charge_policy_assign(
        company=world.company,
        policy=provider_policy(),
        effective_from=datetime(2026, 11, 1, tzinfo=UTC),
        actor=None,
    )
    october.refresh_from_db()
    assert october.total == total
    in_window_traffic(world, datetime(2026, 11, 2, 9, tzinfo=UTC))
    assert world.invoice(NOV).total == D("0.04")


def test_f1_customer_success_edits_policies_and_switches_companies_in_the_admin(
    client, world, cs_user
):
    cs = cs_user
    client.force_login(cs)
    response = client.post(
        reverse("admin:billing_chargepolicy_add"),
        {
            "name": "Marketing free inside the window",
            "description": "Negotiated for a pilot.",
            "marketing_outside_window": "on",
            "utility_outside_window": "on",
            "authentication_in_window": "on",
            "authentication_outside_window": "on",
            "service_rate_category": "utility",
        },
    )
    assert response.status_code == 302, response.content
    pilot = ChargePolicy.objects.get(name="Marketing free inside the window")
    response = client.post(
        reverse("admin:billing_chargepolicyassignment_add"),
        {
            "company": world.company.pk,
            "policy": pilot.pk,
            "effective_from_0": "2026-10-01",
            "effective_from_1": "00:00:00",
            "note": "Pilot",
        },
    )
    assert response.status_code == 302, response.content
    assignment = ChargePolicyAssignment.objects.get(company=world.company)
    assert assignment.created_by == cs
    world.contact_writes(T)
    in_window = world.send_and_deliver("marketing", T + H)
    outside = world.send_and_deliver("marketing", T + 25 * H)
    world.invoice(OCT)
    assert Charge.objects.get(message=in_window).reason == rules.Reason.FREE_BY_POLICY
    assert Charge.objects.get(message=outside).billable
    # A refused assignment is shown on the form and changes nothing.
    response = client.post(
        reverse("admin:billing_chargepolicyassignment_add"),
        {
            "company": world.company.pk,
            "policy": pilot.pk,
            "effective_from_0": "2026-10-01",
            "effective_from_1": "00:00:00",
        },
    )
    assert response.status_code == 200
    assert "already starts" in response.content.decode()
    assert ChargePolicyAssignment.objects.filter(company=world.company).count() == 1


def test_f1_the_portal_shows_the_policy_and_explains_each_charge(client, world):
    charge_policy_assign(
        company=world.company,
        policy=provider_policy(),
        effective_from=SWITCH,
        actor=None,
    )
    in_window_traffic(world, SWITCH + H)
    invoice = world.invoice(OCT)
    client.force_login(CompanyAdminFactory(company=world.company))
    page = client.get(reverse("billing:pricing")).content.decode()
    assert PROVIDER_2026_10 in page
    assert STANDARD in page
    detail = client.get(reverse("billing:invoice", args=[invoice.pk])).content.decode()
    assert "Free-form messages, Spain" in detail
    line = invoice.lines.get(category="service")
    messages = client.get(
        reverse("billing:invoice-line", args=[invoice.pk, line.pk])
    ).content.decode()
    assert "free-form message" in messages and PROVIDER_2026_10 in messages


TERMS = {
    "contract": rules.PolicyTerms(),
    "provider 2026-10": rules.PolicyTerms(
        utility_in_window=True, service_in_window=True
    ),
    "inverted": rules.PolicyTerms(
        marketing_in_window=False,
        marketing_outside_window=True,
        utility_in_window=True,
        utility_outside_window=False,
        authentication_in_window=False,
        authentication_outside_window=True,
        service_in_window=True,
        service_rate_category="marketing",
    ),
    "nothing": rules.PolicyTerms(
        **{
            f"{c}_{w}": False
            for c in ("marketing", "utility", "authentication")
            for w in ("in_window", "outside_window")
        },
        service_in_window=False,
    ),
}


@pytest.mark.parametrize("name", TERMS)
def test_f1_sql_classification_is_the_pure_rule_for_every_policy(world, name):
    """charges_sync looks its answers up from rules.charge_for: for every category,
    window state and free entry point state, under very different policies, each
    charge says what the pure rule says, at the rate category it names."""
    terms = TERMS[name]
    policy = ChargePolicy.objects.create(
        name=name,
        **{f.name: getattr(terms, f.name) for f in dataclass_fields(terms)},
    )
    charge_policy_assign(
        company=world.company,
        policy=policy,
        effective_from=datetime(2026, 10, 1, tzinfo=UTC),
        actor=None,
    )
    sent = []  # (message, category, window open, entry point)
    for n, (window_open, entry_point) in enumerate(
        [(True, False), (False, False), (True, True), (False, True)]
    ):
        world.wa_id, world.conversation = f"3460000000{n}", None
        start = T + n * 5 * 24 * H
        at = start + 2 * H if window_open else start + 30 * H
        if entry_point:
            world.contact_clicks_ad(start)
            opener = world.send_template("marketing", start + H)  # opens the 72 h
            world.deliver(opener)
            sent.append((opener, "marketing", True, True))
        else:
            world.contact_writes(start)
        for category in ("marketing", "utility", "authentication"):
            sent.append(
                (
                    world.send_and_deliver(category, at),
                    category,
                    window_open,
                    entry_point,
                )
            )
        if window_open:
            text = world.send_text(at + H)
            world.deliver(text)
            sent.append((text, "service", True, entry_point))
    world.invoice(OCT)
    for message, category, window_open, entry_point in sent:
        billable, reason = rules.charge_for(
            category=category,
            window_open=window_open,
            terms=terms,
            entry_point=entry_point,
        )
        charge = Charge.objects.filter(message=message).first()
        if charge is None:
            assert (category, reason) == ("service", rules.Reason.SERVICE_FREE)
            continue
        assert (charge.billable, charge.reason) == (billable, reason), (
            category,
            window_open,
            entry_point,
        )
        if billable:
            expected = RATES[("Spain", rules.rate_category(category, terms))]
            assert charge.rate == D(expected)


def test_f1_assignment_needs_an_aware_instant(world):
    with time_machine.travel(T, tick=False), pytest.raises(DomainError):
        charge_policy_assign(
            company=world.company,
            policy=provider_policy(),
            effective_from=datetime(2026, 12, 1),  # noqa: DTZ001 - the point
            actor=None,
        )


def test_f1_with_no_policy_at_all_the_contract_applies(world):
    ChargePolicyAssignment.objects.all().delete()
    text, utility = in_window_traffic(world, T)
    marketing = world.send_and_deliver("marketing", T + 3 * H)
    world.invoice(OCT)
    assert not Charge.objects.filter(message=text).exists()
    assert Charge.objects.get(message=utility).reason == rules.Reason.UTILITY_IN_WINDOW
    charge = Charge.objects.get(message=marketing)
    assert (charge.billable, charge.policy) == (True, None)


def test_f1_the_pricing_page_gives_instants_in_the_company_time_zone(client):
    policies_seed(policy_model=ChargePolicy, assignment_model=ChargePolicyAssignment)
    rate_card(rates=RATES, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    world = World(client, start=T, tz="America/Mexico_City")
    charge_policy_assign(
        company=world.company,
        policy=provider_policy(),
        effective_from=datetime(2026, 10, 1, 6, 0, tzinfo=UTC),  # midnight there
        actor=None,
    )
    client.force_login(CompanyAdminFactory(company=world.company))
    page = client.get(reverse("billing:pricing")).content.decode()
    assert "Oct. 1, 2026, midnight" in page
    assert "6 a.m." not in page


def _pilot(actor=None) -> ChargePolicy:
    return charge_policy_create(
        name="Pilot", marketing_in_window=False, actor=actor, description="A pilot."
    )


def test_f1_charge_policy_services_create_and_edit_until_a_finalized_invoice_used_it(
    world,
):
    # given a new policy put in force for the company
    pilot = _pilot()
    assert (pilot.name, pilot.marketing_in_window, pilot.utility_in_window) == (
        "Pilot",
        False,
        False,
    )
    with pytest.raises(DomainError, match="already exists"):
        charge_policy_create(name="Pilot", actor=None)
    charge_policy_assign(
        company=world.company, policy=pilot, effective_from=SWITCH, actor=None
    )
    world.send_and_deliver("marketing", SWITCH + H)
    # editable while only a draft used it
    invoice = world.invoice(OCT)
    charge_policy_update(policy=pilot, utility_in_window=True, actor=None)
    pilot.refresh_from_db()
    assert pilot.utility_in_window
    # when a finalized invoice billed under it
    with time_machine.travel(datetime(2026, 11, 5, tzinfo=UTC), tick=False):
        invoice_finalize(invoice=invoice)
    # then it is refused and nothing changes
    with pytest.raises(DomainError, match="used by a finalized invoice"):
        charge_policy_update(policy=pilot, name="Renamed", actor=None)
    pilot.refresh_from_db()
    assert pilot.name == "Pilot"
    assert rules.policy_editable(billed_on_finalized_invoice=True) is False
    assert rules.policy_editable(billed_on_finalized_invoice=False) is True


def test_f1_the_admin_saves_policies_through_the_service_and_shows_its_refusal(
    client, world, cs_user
):
    client.force_login(cs_user)
    pilot = _pilot()
    charge_policy_assign(
        company=world.company, policy=pilot, effective_from=SWITCH, actor=None
    )
    world.send_and_deliver("marketing", SWITCH + H)
    invoice = world.invoice(OCT)
    url = reverse("admin:billing_chargepolicy_change", args=[pilot.pk])
    form = {
        "name": "Pilot",
        "description": "A pilot.",
        "marketing_outside_window": "on",
        "utility_outside_window": "on",
        "authentication_in_window": "on",
        "authentication_outside_window": "on",
        "service_rate_category": "utility",
        # the read-only inline of its assignments
        "assignments-TOTAL_FORMS": "1",
        "assignments-INITIAL_FORMS": "1",
        "assignments-0-id": str(pilot.assignments.get().pk),
        "assignments-0-policy": str(pilot.pk),
    }
    # a duplicate name is the service's refusal, shown on the form
    _pilot_b = charge_policy_create(name="Pilot B", actor=None)
    refused = client.post(url, {**form, "name": _pilot_b.name})
    assert refused.status_code == 200
    assert "already exists" in refused.content.decode()
    # editable while only drafts used it
    edited = client.post(url, {**form, "utility_in_window": "on"})
    assert edited.status_code == 302
    pilot.refresh_from_db()
    assert pilot.utility_in_window
    # once a finalized invoice used it, the service refuses (the page is read only)
    with time_machine.travel(datetime(2026, 11, 5, tzinfo=UTC), tick=False):
        invoice_finalize(invoice=invoice)
    assert client.post(url, form).status_code == 302  # nothing editable: no change
    pilot.refresh_from_db()
    assert pilot.utility_in_window
    with pytest.raises(DomainError):
        charge_policy_update(policy=pilot, utility_in_window=False, actor=None)
    # a new policy from the admin records who created it
    created = client.post(
        reverse("admin:billing_chargepolicy_add"), {**form, "name": "Pilot C"}
    )
    assert created.status_code == 302, created.content
    assert ChargePolicy.objects.get(name="Pilot C").created_by == cs_user
