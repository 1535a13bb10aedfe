"""billing/services/reconciliation.py and its admin (F4), beyond the contract tests."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Invoice, PricingDisagreement
from billing.selectors import unreviewed_count
from billing.services import disagreements_review, disagreements_sync
from tests.billing_world import World, rate_card

pytestmark = pytest.mark.django_db

T = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
CHANGELIST = reverse("admin:billing_pricingdisagreement_changelist")
MARKETING = {"billable": True, "type": "regular", "category": "marketing"}
FREE = {"billable": False, "type": "free_customer_service", "category": "utility"}


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
    rate_card(
        rates={
            ("Spain", "marketing"): "0.0615",
            ("Spain", "utility"): "0.0200",
        },
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _world(*, disagreeing: int, agreeing: int = 0, wa_id="34600111222") -> World:
    """Utility templates with no window (charged utility by us): ``disagreeing``
    the provider charges as marketing, ``agreeing`` it charges as utility."""
    world = World(Client(), start=T, wa_id=wa_id)
    for i in range(disagreeing + agreeing):
        message = world.send_template("utility", T + timedelta(minutes=i))
        provider = (
            MARKETING if i < disagreeing else {**MARKETING, "category": "utility"}
        )
        world.deliver(message, pricing=provider)
    return world


def _draft(world: World) -> Invoice:
    return world.invoice(OCT, at=NOW)


def _sync_queries(invoice: Invoice) -> int:
    with CaptureQueriesContext(connection) as queries:
        disagreements_sync(invoice=invoice)
    return len(queries)


def test_sync_reads_in_a_constant_number_of_queries():
    few, many = _draft(_world(disagreeing=2, agreeing=3)), None
    many = _draft(_world(disagreeing=25, agreeing=30, wa_id="34600333444"))
    assert PricingDisagreement.objects.filter(invoice=many).count() == 25
    # with nothing to change, and after every row changed
    assert _sync_queries(few) == _sync_queries(many)
    PricingDisagreement.objects.update(provider_type="stale")
    assert _sync_queries(few) == _sync_queries(many)
    PricingDisagreement.objects.all().delete()
    assert _sync_queries(few) == _sync_queries(many) <= 12


def test_sync_keeps_unchanged_rows_and_only_touches_drafts():
    world = _world(disagreeing=3)
    invoice = _draft(world)
    before = list(PricingDisagreement.objects.order_by("pk").values())
    assert disagreements_sync(invoice=invoice) == 3
    assert list(PricingDisagreement.objects.order_by("pk").values()) == before
    invoice.status = Invoice.Status.FINALIZED
    PricingDisagreement.objects.all().delete()
    assert disagreements_sync(invoice=invoice) == 0
    assert not PricingDisagreement.objects.exists()


def test_a_row_left_on_another_draft_moves_to_the_invoice_of_its_month():
    world = _world(disagreeing=1)
    october = _draft(world)
    (row,) = PricingDisagreement.objects.all()
    november = world.invoice(date(2026, 11, 1), at=datetime(2026, 12, 1, 1, tzinfo=UTC))
    PricingDisagreement.objects.filter(pk=row.pk).update(invoice=november)
    disagreements_sync(invoice=october)
    (moved,) = PricingDisagreement.objects.all()
    assert moved.invoice == october and moved.message_id == row.message_id


def test_review_counts_only_rows_newly_reviewed(cs_user):
    world = _world(disagreeing=3)
    invoice = _draft(world)
    first, *others = PricingDisagreement.objects.order_by("pk")
    assert disagreements_review(disagreements=[first.pk], actor=cs_user) == 1
    assert unreviewed_count(invoice=invoice) == 2
    all_rows = PricingDisagreement.objects.all()
    assert disagreements_review(disagreements=all_rows, actor=cs_user, note=" n ") == 2
    assert unreviewed_count(invoice=invoice) == 0
    assert set(all_rows.values_list("review_note", flat=True)) == {"", "n"}


def test_admin_list_query_count_is_constant(cs_client, django_assert_max_num_queries):
    _draft(_world(disagreeing=3))
    with time_machine.travel(NOW, tick=False):
        cs_client.get(CHANGELIST)
        with CaptureQueriesContext(connection) as queries:
            assert cs_client.get(CHANGELIST).status_code == 200
        few = len(queries)
    _draft(_world(disagreeing=30, wa_id="34600333444"))
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(few):
        response = cs_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 33


def test_admin_detail_is_read_only_and_nothing_is_added_or_deleted(cs_client):
    _draft(_world(disagreeing=1))
    row = PricingDisagreement.objects.get()
    url = reverse("admin:billing_pricingdisagreement_change", args=[row.pk])
    with time_machine.travel(NOW, tick=False):
        page = cs_client.get(url)
        assert page.status_code == 200
        assert not page.context["has_change_permission"]
        content = page.content.decode()
        assert reverse("admin:messaging_message_change", args=[row.message_id]) in (
            content
        )
        assert "&quot;category&quot;: &quot;marketing&quot;" in content
        cs_client.post(url, {"review_note": "edited"})
        assert (
            cs_client.get(reverse("admin:billing_pricingdisagreement_add")).status_code
            == 403
        )
    row.refresh_from_db()
    assert row.review_note == ""


def test_admin_action_on_every_row_matching_the_filters(cs_client, cs_user):
    _draft(_world(disagreeing=3))
    _draft(_world(disagreeing=2, wa_id="34600333444"))
    first = PricingDisagreement.objects.order_by("pk").first()
    company = first.company_id
    with time_machine.travel(NOW, tick=False):
        filtered = f"{CHANGELIST}?company__id__exact={company}"
        confirm = cs_client.post(
            filtered,
            {
                "action": "mark_reviewed",
                "_selected_action": [first.pk],
                "select_across": "1",
                "index": "0",
            },
        )
        assert confirm.status_code == 200
        assert confirm.context["count"] == 3
        cs_client.post(
            filtered,
            {
                "action": "mark_reviewed",
                "_selected_action": [first.pk],
                "select_across": "1",
                "post": "yes",
                "note": "bulk",
            },
        )
    reviewed = PricingDisagreement.objects.filter(reviewed_at__isnull=False)
    assert set(reviewed.values_list("company_id", flat=True)) == {company}
    assert reviewed.count() == 3


def test_staff_without_the_change_permission_cannot_review(client, cs_user):
    from django.contrib.auth.models import Permission

    from tests.factories import StaffUserFactory

    _draft(_world(disagreeing=1))
    row = PricingDisagreement.objects.get()
    viewer = StaffUserFactory()
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_pricingdisagreement")
    )
    client.force_login(viewer)
    with time_machine.travel(NOW, tick=False):
        assert client.get(CHANGELIST).status_code == 200
        client.post(
            CHANGELIST,
            {
                "action": "mark_reviewed",
                "_selected_action": [row.pk],
                "post": "yes",
                "note": "x",
            },
        )
    row.refresh_from_db()
    assert row.reviewed_at is None


def test_a_new_delivery_instant_is_followed_without_reopening_the_review(cs_user):
    world = _world(disagreeing=1)
    invoice = _draft(world)
    row = PricingDisagreement.objects.get()
    disagreements_review(disagreements=[row.pk], actor=cs_user, note="ok")
    PricingDisagreement.objects.filter(pk=row.pk).update(
        delivered_at=row.delivered_at + timedelta(minutes=1)
    )
    disagreements_sync(invoice=invoice)
    again = PricingDisagreement.objects.get()
    assert again.delivered_at == row.delivered_at
    assert again.reviewed_by == cs_user and again.review_note == "ok"
