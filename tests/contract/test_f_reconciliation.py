"""F4 reconciliation, as the feature states it.

Each delivered message's own classification (its charge, or none for a free
free-form message) is compared with the provider's pricing object (``type``,
``category``); a report in the admin and in the portal lists the disagreements
by month with the messages behind them; an invoice is finalized only after its
disagreements are reviewed.
"""

import logging
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from billing import selectors
from billing.exceptions import InvalidTransition
from billing.models import Charge, DocumentSequence, Invoice, PricingDisagreement
from billing.services import disagreements_review, disagreements_sync, invoice_compute
from billing.tasks import invoices_finalize_due_task
from messaging.models import Message
from tests.billing_world import World, rate_card
from tests.factories import CompanyAdminFactory, UserFactory

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)
NOV = date(2026, 11, 1)


def pricing(category: str, *, billable: bool, type_: str | None = None) -> dict:
    """A provider's PMP pricing object."""
    return {
        "billable": billable,
        "pricing_model": "PMP",
        "type": type_ or ("regular" if billable else "free_customer_service"),
        "category": category,
    }


@pytest.fixture(autouse=True)
def _rates():
    rate_card(
        rates={
            ("Spain", "marketing"): "0.0615",
            ("Spain", "utility"): "0.0200",
            ("Spain", "authentication"): "0.0300",
        },
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )


@pytest.fixture
def world(client) -> World:
    w = World(client, start=T)
    with time_machine.travel(T - timedelta(days=30), tick=False):
        w.admin = CompanyAdminFactory(company=w.company)
    return w


@pytest.fixture
def cs(cs_user):
    return cs_user


def _rows(invoice) -> list[PricingDisagreement]:
    return list(PricingDisagreement.objects.filter(invoice=invoice).order_by("pk"))


def _in_window_utility(world: World, at: datetime, **provider) -> Message:
    """A utility template sent inside the window the contact just opened: free
    for us (C3); delivered with the provider's ``pricing``."""
    world.contact_writes(at)
    message = world.send_template("utility", at + timedelta(minutes=5))
    world.deliver(message, at + timedelta(minutes=5, seconds=2), **provider)
    return message


# --- What is compared ---------------------------------------------------------------


def test_f4_provider_agreeing_is_no_disagreement(world, settings):
    # given the sandbox provider, whose statuses carry a pricing object computed
    # like our default rules, and every kind of outbound message
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = True
    world.send_template("marketing", T)
    world.send_template("authentication", T + timedelta(minutes=1))
    world.send_template("utility", T + timedelta(minutes=2))  # no window: charged
    world.contact_writes(T + timedelta(hours=1))
    world.send_template("utility", T + timedelta(hours=1, minutes=1))  # free
    world.send_text(T + timedelta(hours=1, minutes=2))  # free-form: free
    priced = Message.objects.filter(
        company=world.company, direction="out", pricing__isnull=False
    )
    assert priced.count() == 5
    # when October is invoiced
    invoice = world.invoice(OCT)
    # then the provider agrees with every charge and nothing blocks finalizing
    assert Charge.objects.filter(invoice=invoice).count() == 4
    assert _rows(invoice) == []
    assert world.finalize(invoice).status == Invoice.Status.FINALIZED


def test_f4_messages_without_a_pricing_object_are_not_reported(world):
    world.send_and_deliver("marketing", T)  # no pricing object at all
    message = world.send_template("utility", T + timedelta(hours=1))
    # a pricing object that says neither "billable" nor "type"
    world.deliver(message, pricing={"pricing_model": "PMP", "category": "marketing"})
    invoice = world.invoice(OCT)
    assert _rows(invoice) == []
    assert world.finalize(invoice).number


def test_f4_provider_charging_a_utility_template_free_in_window_is_a_billable_disagreement(
    world, client
):
    # given a utility template we consider free (window open), which the
    # provider reports as charged
    message = _in_window_utility(world, T, pricing=pricing("utility", billable=True))
    # when October is computed
    invoice = world.invoice(OCT)
    # then one "billable" disagreement names the message and both verdicts
    (row,) = _rows(invoice)
    assert (row.message_id, row.kind, row.month) == (message.pk, "billable", OCT)
    assert (row.ours_billable, row.ours_category, row.ours_reason) == (
        False,
        "utility",
        "free_utility_in_window",
    )
    assert (row.provider_billable, row.provider_category, row.provider_type) == (
        True,
        "utility",
        "regular",
    )
    assert row.delivered_at == message.provider_timestamp + timedelta(seconds=2)
    assert row.reviewed_at is None
    # and the company's admin sees it listed with its message
    client.force_login(world.admin)
    with time_machine.travel(T + timedelta(days=30), tick=False):
        page = client.get(reverse("billing:reconciliation")).content.decode()
    assert "Charged by one side only" in page
    assert world.templates["utility"].name in page
    assert "+346••••••22" in page and world.wa_id not in page


def test_f4_provider_recategorizing_utility_as_marketing_is_a_category_disagreement(
    world,
):
    # given a utility template delivered with no window open: we charge it as
    # utility, the provider as marketing (a different rate)
    message = world.send_template("utility", T)
    world.deliver(message, pricing=pricing("marketing", billable=True))
    invoice = world.invoice(OCT)
    (row,) = _rows(invoice)
    assert row.kind == "category"
    assert (row.ours_billable, row.ours_category) == (True, "utility")
    assert (row.provider_billable, row.provider_category) == (True, "marketing")


def test_f4_a_free_form_message_the_provider_charges_is_a_disagreement(world):
    # given a free-form answer inside the window: no charge, free for us (C5)
    world.contact_writes(T)
    message = world.send_text(T + timedelta(minutes=1))
    world.deliver(message, pricing=pricing("service", billable=True))
    invoice = world.invoice(OCT)
    assert not Charge.objects.filter(message=message).exists()
    (row,) = _rows(invoice)
    assert (row.kind, row.message_id) == ("billable", message.pk)
    assert (row.ours_billable, row.ours_category, row.ours_reason) == (
        False,
        "service",
        "free_service",
    )
    assert (row.provider_billable, row.provider_category) == (True, "service")


def test_f4_the_provider_s_names_are_normalised(world):
    # authentication_international is authentication: no category disagreement
    auth = world.send_template("authentication", T)
    world.deliver(auth, pricing=pricing("authentication_international", billable=True))
    # a referral conversation is free whatever it says: we charge this marketing
    marketing = world.send_template("marketing", T + timedelta(hours=1))
    world.deliver(
        marketing,
        pricing={
            "billable": True,
            "pricing_model": "CBP",
            "category": "referral_conversion",
        },
    )
    invoice = world.invoice(OCT)
    (row,) = _rows(invoice)
    assert (row.message_id, row.kind) == (marketing.pk, "billable")
    assert (row.provider_billable, row.provider_category) == (False, "service")


def test_f4_months_are_cut_in_the_company_billing_time_zone(client):
    # given a company in Tokyo (UTC+9): 31 October 16:00 UTC is 1 November there
    world = World(client, start=T, tz="Asia/Tokyo")
    late = world.send_template("utility", datetime(2026, 10, 31, 14, 59, tzinfo=UTC))
    world.deliver(late, pricing=pricing("marketing", billable=True))
    early = world.send_template("utility", datetime(2026, 10, 31, 15, 0, tzinfo=UTC))
    world.deliver(early, pricing=pricing("marketing", billable=True))
    october = world.invoice(OCT)
    november = world.invoice(NOV)
    assert [r.message_id for r in _rows(october)] == [late.pk]
    assert [r.message_id for r in _rows(november)] == [early.pk]
    assert _rows(november)[0].month == NOV


# --- Recompute and review ------------------------------------------------------------


def test_f4_recompute_is_idempotent_and_keeps_reviews(world, cs):
    _in_window_utility(world, T, pricing=pricing("utility", billable=True))
    invoice = world.invoice(OCT)
    (row,) = _rows(invoice)
    reviewed = disagreements_review(
        disagreements=[row.pk], actor=cs, note="Provider charges in-window utility"
    )
    assert reviewed == 1
    # reviewing again changes nothing (idempotent)
    assert disagreements_review(disagreements=[row.pk], actor=cs, note="again") == 0
    # when the draft is recomputed twice
    world.invoice(OCT)
    world.invoice(OCT)
    # then the same row keeps its review
    (again,) = _rows(invoice)
    assert again.pk == row.pk
    assert again.reviewed_by == cs
    assert again.review_note == "Provider charges in-window utility"
    assert again.detected_at == row.detected_at
    assert selectors.unreviewed_count(invoice=invoice) == 0


def test_f4_facts_changing_after_review_reopen_it(world, cs):
    # given a reviewed category disagreement (utility charged as marketing)
    message = world.send_template("utility", T)
    world.deliver(message, pricing=pricing("marketing", billable=True))
    invoice = world.invoice(OCT)
    (row,) = _rows(invoice)
    disagreements_review(disagreements=[row.pk], actor=cs, note="ok")
    # when the read status carries a new pricing object: now free for the provider
    world.status(
        message,
        "read",
        T + timedelta(minutes=10),
        pricing=pricing("utility", billable=False),
    )
    world.invoice(OCT)
    # then the row is updated and waits for a new review
    (reopened,) = _rows(invoice)
    assert reopened.pk == row.pk
    assert (reopened.kind, reopened.provider_billable) == ("billable", False)
    assert reopened.reviewed_at is None and reopened.reviewed_by is None
    assert reopened.review_note == ""
    # and when our classification comes round to the provider's (a late inbound
    # message shows the window was open at delivery), the row goes
    world.contact_writes(T - timedelta(hours=1), arrives=T + timedelta(hours=2))
    world.invoice(OCT)
    assert _rows(invoice) == []


def test_f4_only_drafts_are_synced_and_only_drafts_reviewed(world, cs):
    _in_window_utility(world, T, pricing=pricing("utility", billable=True))
    invoice = world.invoice(OCT)
    (row,) = _rows(invoice)
    disagreements_review(disagreements=[row.pk], actor=cs, note="ok")
    invoice = world.finalize(invoice)
    PricingDisagreement.objects.filter(pk=row.pk).update(
        reviewed_at=None, reviewed_by=None
    )
    assert disagreements_sync(invoice=invoice) == 0
    assert disagreements_review(disagreements=[row.pk], actor=cs) == 0


# --- The finalize gate ----------------------------------------------------------------


def test_f4_finalize_is_refused_while_disagreements_are_unreviewed(world, cs):
    # given a draft with one unreviewed disagreement
    _in_window_utility(world, T, pricing=pricing("utility", billable=True))
    invoice = world.invoice(OCT)
    # when it is finalized
    with pytest.raises(InvalidTransition) as refused:
        world.finalize(invoice)
    # then it is refused with the reason, and nothing changed
    assert refused.value.message == (
        f"{invoice}: 1 pricing disagreement with the provider is not reviewed yet: "
        "review it in Billing → Pricing disagreements."
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number, invoice.finalized_at) == (
        "draft",
        None,
        None,
    )
    assert not DocumentSequence.objects.filter(kind="INV").exists()
    # and once it is reviewed, it is finalized with the first number
    disagreements_review(
        disagreements=PricingDisagreement.objects.filter(invoice=invoice), actor=cs
    )
    invoice = world.finalize(invoice)
    assert invoice.number == "INV-2026-000001"


def _reviewed_draft_then_a_late_disagreement(world, cs):
    """A draft computed and reviewed on 1 November, then a late status of another
    message that brings a new disagreement; returns the draft and that message."""
    _in_window_utility(world, T, pricing=pricing("utility", billable=True))
    invoice = world.invoice(OCT)
    disagreements_review(
        disagreements=PricingDisagreement.objects.filter(invoice=invoice), actor=cs
    )
    second = world.send_template("marketing", T + timedelta(days=2))
    world.deliver(
        second,
        pricing=pricing("utility", billable=True),
        arrives=datetime(2026, 11, 2, tzinfo=UTC),
    )
    return invoice, second


def test_f4_a_disagreement_found_by_the_last_recompute_blocks_too(world, cs):
    # given a reviewed draft and a late new disagreement
    invoice, _ = _reviewed_draft_then_a_late_disagreement(world, cs)
    # then the finalize recompute finds it and refuses
    with pytest.raises(InvalidTransition, match="1 pricing disagreement"):
        world.finalize(invoice)


def test_f4_a_refused_finalize_keeps_what_its_recompute_found_for_every_caller(
    world, cs
):
    # given a reviewed draft and a late new disagreement
    invoice, second = _reviewed_draft_then_a_late_disagreement(world, cs)
    # when the service itself refuses (no caller recomputes afterwards)
    with pytest.raises(InvalidTransition, match="1 pricing disagreement"):
        world.finalize(invoice)
    # then the draft holds the new disagreement, unreviewed, for review
    invoice.refresh_from_db()
    assert invoice.status == "draft"
    assert [r.message_id for r in _rows(invoice) if r.reviewed_at is None] == [
        second.pk
    ]


def test_f4_the_daily_finalize_run_reports_a_blocked_draft_and_goes_on(
    world, client, caplog
):
    # given two drafts due: one blocked by a disagreement, one clean
    _in_window_utility(world, T, pricing=pricing("utility", billable=True))
    blocked = world.invoice(OCT)
    other = World(client, start=T, wa_id="34600999888")
    other.send_and_deliver("marketing", T)
    clean = other.invoice(OCT)
    # when the daily run finalizes the drafts due
    caplog.set_level(logging.WARNING, logger="billing.tasks")
    with time_machine.travel(datetime(2026, 11, 5, 3, 30, tzinfo=UTC), tick=False):
        assert invoices_finalize_due_task.delay().get() == 2
    # then the clean one is finalized, the blocked one stays a draft, logged
    blocked.refresh_from_db()
    clean.refresh_from_db()
    assert (blocked.status, clean.status) == ("draft", "finalized")
    assert "1 pricing disagreement with the provider is not reviewed yet" in caplog.text


def test_f4_the_finalize_task_result_says_it_is_blocked_and_keeps_what_it_found(world):
    from billing.tasks import invoice_finalize_task

    _in_window_utility(world, T, pricing=pricing("utility", billable=True))
    invoice = world.invoice(OCT)
    PricingDisagreement.objects.filter(invoice=invoice).delete()  # as if not seen yet
    with time_machine.travel(datetime(2026, 11, 5, 3, 30, tzinfo=UTC), tick=False):
        result = invoice_finalize_task.delay(invoice.pk).get()
    assert result == {
        "invoice": invoice.pk,
        "status": "draft",
        "blocked": "disagreements_unreviewed",
        "unreviewed": 1,
    }
    # the refused recompute's finding is kept, for Customer Success to review
    assert len(_rows(invoice)) == 1


def test_f4_a_finalized_invoice_s_disagreements_are_frozen(world, cs):
    # given October finalized after its disagreement was reviewed
    message = _in_window_utility(world, T, pricing=pricing("utility", billable=True))
    invoice = world.invoice(OCT)
    disagreements_review(
        disagreements=PricingDisagreement.objects.filter(invoice=invoice),
        actor=cs,
        note="agreed with the provider",
    )
    invoice = world.finalize(invoice)
    (before,) = PricingDisagreement.objects.filter(invoice=invoice).values()
    # when a late status changes the provider's pricing and November is computed
    world.status(
        message,
        "read",
        T + timedelta(hours=1),
        pricing=pricing("marketing", billable=True),
        arrives=datetime(2026, 11, 6, tzinfo=UTC),
    )
    world.invoice(NOV)
    # then October's row is exactly as it was
    assert list(PricingDisagreement.objects.filter(invoice=invoice).values()) == [
        before
    ]
    assert PricingDisagreement.objects.count() == 1


def test_f4_late_charges_carried_over_are_reconciled_on_the_invoice_that_bills_them(
    world, cs
):
    # given October finalized, then a template of October delivered late
    message = world.send_template("utility", T)
    october = world.finalize(world.invoice(OCT))
    world.deliver(
        message,
        pricing=pricing("marketing", billable=True),
        arrives=datetime(2026, 11, 6, tzinfo=UTC),
    )
    # when November is computed, it bills the charge (carried over, C7)
    november = world.invoice(NOV)
    assert Charge.objects.get(message=message).invoice == november
    # then November answers for its disagreement
    (row,) = _rows(november)
    assert (row.message_id, row.month, row.kind) == (message.pk, NOV, "category")
    assert _rows(october) == []


# --- The portal -----------------------------------------------------------------------


def _page(client, user, **params):
    with time_machine.travel(datetime(2026, 12, 10, tzinfo=UTC), tick=False):
        client.force_login(user)
        return client.get(reverse("billing:reconciliation"), params)


def test_f4_portal_lists_disagreements_by_month_and_is_tenant_isolated(
    client, world, cs
):
    # given disagreements in October (one reviewed) and November
    _in_window_utility(world, T, pricing=pricing("utility", billable=True))
    oct_message = world.send_template("utility", T + timedelta(days=1))
    world.deliver(oct_message, pricing=pricing("marketing", billable=True))
    nov_message = world.send_template("marketing", T + timedelta(days=31))
    world.deliver(nov_message, pricing=pricing("marketing", billable=False))
    october = world.invoice(OCT)
    disagreements_review(
        disagreements=PricingDisagreement.objects.filter(message=oct_message), actor=cs
    )
    world.invoice(NOV)
    # and another company with its own
    other = World(Client(), start=T, wa_id="34600999888")
    other.admin = CompanyAdminFactory(company=other.company)
    theirs = other.send_template("utility", T)
    other.deliver(theirs, pricing=pricing("marketing", billable=True))
    other.invoice(OCT)
    # when the admin opens the page: months newest first, counts per month
    response = _page(client, world.admin)
    months = response.context["months"]
    assert [(m.month, m.total, m.unreviewed, m.reviewed) for m in months] == [
        (NOV, 1, 1, 0),
        (OCT, 2, 1, 1),
    ]
    # the newest month's messages by default
    assert [r.message_id for r in response.context["table"].data] == [nov_message.pk]
    # ?month=YYYY-MM shows another month, with its invoice linked
    response = _page(client, world.admin, month="2026-10")
    page = response.content.decode()
    assert {r.message_id for r in response.context["table"].data} == {
        oct_message.pk,
        PricingDisagreement.objects.get(invoice=october, kind="billable").message_id,
    }
    assert reverse("billing:invoice", args=[october.pk]) in page
    assert "Being reviewed" in page and "Reviewed" in page
    # a malformed month shows nothing, not an error
    response = _page(client, world.admin, month="2026-13")
    assert response.status_code == 200 and response.context["invalid"]
    # then the other company sees only its own row
    response = _page(client, other.admin, month="2026-10")
    assert [r.message_id for r in response.context["table"].data] == [theirs.pk]
    assert [m.total for m in response.context["months"]] == [1]
    # and agents of the company do not see billing
    agent = UserFactory(company=world.company)
    assert _page(client, agent).status_code == 403


def test_f4_the_invoice_page_links_to_its_disagreements(client, world):
    _in_window_utility(world, T, pricing=pricing("utility", billable=True))
    invoice = world.invoice(OCT)
    client.force_login(world.admin)
    page = client.get(reverse("billing:invoice", args=[invoice.pk])).content.decode()
    assert "1 message where the provider's pricing differs from ours" in page
    assert f"{reverse('billing:reconciliation')}?month=2026-10" in page


@pytest.mark.parametrize("n", [2, 20])
def test_f4_portal_query_count_is_constant(
    client, world, n, django_assert_num_queries, settings
):
    # user, company, months, the table's count and rows; plus the session unless
    # it is cached (Redis configured)
    queries = 5 + (not settings.SESSION_ENGINE.endswith("cached_db"))
    for i in range(n):
        message = world.send_template("utility", T + timedelta(hours=i))
        world.deliver(message, pricing=pricing("marketing", billable=True))
    world.invoice(OCT)
    client.force_login(world.admin)
    with (
        time_machine.travel(datetime(2026, 11, 10, tzinfo=UTC), tick=False),
        django_assert_num_queries(queries),
    ):
        response = client.get(reverse("billing:reconciliation"))
    assert len(response.context["table"].page.object_list) == n


# --- The admin --------------------------------------------------------------------------


def test_f4_admin_action_marks_reviewed_and_unblocks_finalizing(world, cs_client, cs):
    _in_window_utility(world, T, pricing=pricing("utility", billable=True))
    invoice = world.invoice(OCT)
    (row,) = _rows(invoice)
    invoices = reverse("admin:billing_invoice_changelist")
    disagreements = reverse("admin:billing_pricingdisagreement_changelist")
    at = datetime(2026, 11, 5, tzinfo=UTC)
    with time_machine.travel(at, tick=False):
        # the invoice page counts them and links to the list
        page = cs_client.get(
            reverse("admin:billing_invoice_change", args=[invoice.pk])
        ).content.decode()
        assert "1 not reviewed yet (blocks finalizing)" in page
        assert f"{disagreements}?invoice={invoice.pk}&amp;reviewed=no" in page
        # finalizing is refused with the reason
        response = cs_client.post(
            invoices,
            {"action": "finalize", "_selected_action": [invoice.pk]},
            follow=True,
        )
        assert "1 pricing disagreement with the provider is not reviewed yet" in (
            response.content.decode()
        )
        # the list shows the row; the action asks for a note, then marks it
        listed = cs_client.get(disagreements, {"invoice": invoice.pk, "reviewed": "no"})
        assert list(listed.context["cl"].result_list) == [row]
        confirm = cs_client.post(
            disagreements,
            {"action": "mark_reviewed", "_selected_action": [row.pk]},
        )
        assert confirm.status_code == 200 and "Note" in confirm.content.decode()
        done = cs_client.post(
            disagreements,
            {
                "action": "mark_reviewed",
                "_selected_action": [row.pk],
                "post": "yes",
                "note": "The provider's pricing is right; credit next month.",
            },
            follow=True,
        )
        assert "1 disagreement marked reviewed." in done.content.decode()
        row.refresh_from_db()
        assert row.reviewed_by == cs
        assert row.review_note == "The provider's pricing is right; credit next month."
        # and now the invoice is finalized
        cs_client.post(
            invoices, {"action": "finalize", "_selected_action": [invoice.pk]}
        )
    invoice.refresh_from_db()
    assert invoice.status == "finalized"


def test_f4_admin_refusal_keeps_the_disagreements_it_found(world, cs_client):
    _in_window_utility(world, T, pricing=pricing("utility", billable=True))
    invoice = world.invoice(OCT)
    PricingDisagreement.objects.filter(invoice=invoice).delete()  # as if not seen yet
    with time_machine.travel(datetime(2026, 11, 5, tzinfo=UTC), tick=False):
        cs_client.post(
            reverse("admin:billing_invoice_changelist"),
            {"action": "finalize", "_selected_action": [invoice.pk]},
        )
    invoice.refresh_from_db()
    assert invoice.status == "draft"
    assert len(_rows(invoice)) == 1


def test_f4_recompute_of_a_draft_by_the_billing_run_persists_disagreements(world):
    _in_window_utility(world, T, pricing=pricing("utility", billable=True))
    with time_machine.travel(datetime(2026, 11, 1, 0, 15, tzinfo=UTC), tick=False):
        invoice = invoice_compute(company=world.company, month=OCT)
    assert selectors.unreviewed_count(invoice=invoice) == 1


def test_f4_a_late_charge_carried_over_is_compared_on_the_invoice_that_bills_it(world):
    """C7 + F4: the late delivery of an October template, carried over onto
    November's invoice, is compared there; a month without carried charges
    looks at its own month only, and still finds its own disagreements."""
    message = world.send_template("marketing", datetime(2026, 10, 31, 20, tzinfo=UTC))
    world.finalize(world.invoice(OCT))
    world.deliver(
        message,
        datetime(2026, 10, 31, 20, 0, 5, tzinfo=UTC),
        arrives=datetime(2026, 11, 5, tzinfo=UTC),
        pricing=pricing("utility", billable=True),
    )
    november = world.invoice(NOV)
    (row,) = _rows(november)
    assert (row.message_id, row.kind, row.provider_category) == (
        message.pk,
        "category",
        "utility",
    )
    own = _in_window_utility(
        world,
        datetime(2026, 12, 3, tzinfo=UTC),
        pricing=pricing("utility", billable=True),
    )
    december = world.invoice(date(2026, 12, 1))
    assert [r.message_id for r in _rows(december)] == [own.pk]
