"""Contract tests for the status part of rule C1 (charged on delivery only):
what "delivered" means, whatever duplicates or reordering the webhooks bring.
The charging part of C1 is in test_c_charges.py."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.models import Message
from tests import whatsapp
from tests.factories import BusinessNumberFactory, ConversationFactory

pytestmark = pytest.mark.django_db

T = datetime(2026, 4, 1, 10, tzinfo=UTC)
SENT, DELIVERED, READ = (
    T + timedelta(seconds=1),
    T + timedelta(seconds=3),
    T + timedelta(minutes=5),
)
FAILED_AT = T + timedelta(seconds=4)
_counter = itertools.count()


@pytest.fixture
def number():
    return BusinessNumberFactory()


def _outbound(number) -> Message:
    conv = ConversationFactory(business_number=number)
    return Message.objects.create(
        company=number.company,
        conversation=conv,
        direction="out",
        type="template",
        wamid=f"wamid.OUT{next(_counter)}",
        provider_timestamp=T,
        status="accepted",
    )


def _post(client, number, items):
    response = whatsapp.post(
        client,
        whatsapp.status_payload(phone_number_id=number.phone_number_id, items=items),
    )
    assert response.status_code == 200


def _item(message, status, at, **kw):
    return whatsapp.status_item(wamid=message.wamid, status=status, at=at, **kw)


def test_c1_charged_on_delivery_only_delivered_sets_the_delivery_instant(
    client, number
):
    message = _outbound(number)
    _post(client, number, [_item(message, "sent", SENT)])
    message.refresh_from_db()
    assert (message.status, message.delivered_at) == ("sent", None)
    _post(client, number, [_item(message, "delivered", DELIVERED)])
    message.refresh_from_db()
    assert (message.status, message.sent_at, message.delivered_at) == (
        "delivered",
        SENT,
        DELIVERED,
    )


def test_c1_charged_on_delivery_only_read_implies_delivery_when_delivered_never_came(
    client, number
):
    message = _outbound(number)
    _post(client, number, [_item(message, "sent", SENT), _item(message, "read", READ)])
    message.refresh_from_db()
    assert (message.status, message.delivered_at, message.read_at) == (
        "read",
        READ,
        READ,
    )
    # a late "delivered" moves the delivery instant to the real one, never the status back
    _post(client, number, [_item(message, "delivered", DELIVERED)])
    message.refresh_from_db()
    assert (message.status, message.delivered_at) == ("read", DELIVERED)


def test_c1_charged_on_delivery_only_a_failed_message_is_never_delivered(
    client, number
):
    message = _outbound(number)
    errors = [{"code": 131026, "title": "Message undeliverable"}]
    _post(
        client,
        number,
        [
            _item(message, "sent", SENT),
            _item(message, "failed", FAILED_AT, errors=errors),
        ],
    )
    message.refresh_from_db()
    assert (message.status, message.delivered_at, message.error_code) == (
        "failed",
        None,
        131026,
    )


def test_c1_charged_on_delivery_only_failed_after_delivery_never_undoes_it(
    client, number
):
    message = _outbound(number)
    _post(client, number, [_item(message, "delivered", DELIVERED)])
    _post(
        client,
        number,
        [_item(message, "failed", FAILED_AT, errors=[{"code": 131049, "title": "x"}])],
    )
    message.refresh_from_db()
    assert (message.status, message.delivered_at) == ("delivered", DELIVERED)


def test_c1_charged_on_delivery_only_a_status_before_its_message_is_applied_later(
    client, number
):
    from messaging.services import status_orphans_link

    wamid = "wamid.EARLY"
    _post(
        client,
        number,
        [whatsapp.status_item(wamid=wamid, status="delivered", at=DELIVERED)],
    )
    conv = ConversationFactory(business_number=number)
    Message.objects.create(
        company=number.company,
        conversation=conv,
        direction="out",
        type="template",
        wamid=wamid,
        provider_timestamp=T,
        status="accepted",
    )
    status_orphans_link(company_id=number.company_id, wamids=[wamid])
    assert Message.objects.get(wamid=wamid).delivered_at == DELIVERED


EVENTS = [
    ("sent", SENT),
    ("delivered", DELIVERED),
    ("read", READ),
    ("failed", FAILED_AT),
]
# The provider may report one status more than once with different timestamps:
# each status gets a few distinct instants to be reported at.
REPORTS = [
    (status, at + timedelta(seconds=shift))
    for status, at in EVENTS
    for shift in (0, 2, 3600)
]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    chosen=st.lists(st.sampled_from(REPORTS), min_size=1, max_size=8),
    order=st.randoms(use_true_random=False),
    batch=st.integers(1, 4),
)
def test_c1_charged_on_delivery_only_any_order_with_duplicates_gives_the_same_state(
    client, number, chosen, order, batch
):
    # reference: the distinct reports in natural order, one per POST
    reference = _outbound(number)
    for status, at in sorted(set(chosen), key=lambda e: e[1]):
        _post(client, number, [_item(reference, status, at)])
    # the same reports shuffled, duplicated and batched differently
    shuffled = _outbound(number)
    replay = chosen + chosen[: len(chosen) // 2]
    order.shuffle(replay)
    for i in range(0, len(replay), batch):
        _post(
            client, number, [_item(shuffled, s, at) for s, at in replay[i : i + batch]]
        )
    fields = ["status", "sent_at", "delivered_at", "read_at", "failed_at"]
    a = Message.objects.values(*fields).get(pk=reference.pk)
    b = Message.objects.values(*fields).get(pk=shuffled.pk)
    assert a == b
    # and the delivery instant is the earliest delivered report, else the
    # earliest read report
    delivered = [at for s, at in chosen if s == "delivered"]
    read = [at for s, at in chosen if s == "read"]
    expected = min(delivered) if delivered else min(read) if read else None
    assert b["delivered_at"] == expected
