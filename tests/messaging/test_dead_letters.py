"""Deliveries whose processing fails every time stay visible as dead letters.

The beat retries a failed delivery up to WHATSAPP_WEBHOOK_MAX_ATTEMPTS times;
after that it is no longer retried, but it is never dropped without a trace:
the moment it reaches the maximum it is logged once at ERROR, the admin lists it
under "Dead letters", the admin index counts it for those who may view
deliveries, and "Reprocess" processes it once its cause is fixed.
"""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse

from messaging import rules, selectors
from messaging.models import Message, WebhookDelivery
from messaging.services import intake
from messaging.tasks import deliveries_retry_task
from tests import whatsapp
from tests.factories import BusinessNumberFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

SAMPLE = "inbound_text__meta_docs.json"
CHANGELIST = "admin:messaging_webhookdelivery_changelist"


@pytest.mark.parametrize(
    "status,attempts,dead",
    [
        ("failed", 20, True),
        ("failed", 21, True),
        ("failed", 19, False),
        ("processed", 25, False),
        ("unmatched", 20, False),
        ("received", 20, False),
    ],
)
def test_a_delivery_is_dead_when_failed_at_the_maximum_of_attempts(
    status, attempts, dead
):
    assert (
        rules.delivery_is_dead(status=status, attempts=attempts, max_attempts=20)
        is dead
    )


def test_the_dead_letter_selector_agrees_with_the_rule(settings):
    settings.WHATSAPP_WEBHOOK_MAX_ATTEMPTS = 3
    for n, (status, attempts) in enumerate(
        [("failed", 3), ("failed", 2), ("failed", 4), ("processed", 3), ("received", 5)]
    ):
        WebhookDelivery.objects.create(
            body="{}", body_sha256=f"{n:064d}", status=status, attempts=attempts
        )
    expected = {
        d.pk
        for d in WebhookDelivery.objects.all()
        if rules.delivery_is_dead(status=d.status, attempts=d.attempts, max_attempts=3)
    }
    assert set(selectors.dead_deliveries().values_list("pk", flat=True)) == expected
    assert len(expected) == 2


def test_a_delivery_failing_every_retry_becomes_a_visible_dead_letter_and_can_be_reprocessed(
    cs_client, monkeypatch, caplog
):
    sample = whatsapp.fixture(SAMPLE)
    BusinessNumberFactory(
        phone_number_id=sample["entry"][0]["changes"][0]["value"]["metadata"][
            "phone_number_id"
        ]
    )
    real = intake.inbound_messages_record

    def broken(**kwargs):
        raise RuntimeError("a bug in processing 34600111222 Does it come")

    monkeypatch.setattr(intake, "inbound_messages_record", broken)
    caplog.set_level(logging.INFO)
    # given a stored delivery whose processing fails every time
    assert whatsapp.post(cs_client, sample).status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    ok = WebhookDelivery.objects.create(body="{}", body_sha256="0" * 64)
    ok.status = "processed"
    ok.save()
    # when the beat retries it until the maximum (20 attempts in all)
    at = delivery.received_at
    for _ in range(19):
        at += timedelta(minutes=5)
        with time_machine.travel(at, tick=False), whatsapp.on_commit():
            assert deliveries_retry_task() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 20)
    with time_machine.travel(at + timedelta(minutes=5)), whatsapp.on_commit():
        assert deliveries_retry_task() == 0  # no longer retried...

    # ...but logged once at ERROR, with its id and the error type, no content
    errors = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith("messaging")
    ]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    logged = errors[0].getMessage()
    assert str(delivery.pk) in logged and "RuntimeError" in logged
    assert "34600111222" not in logged and "Does it come" not in logged
    assert errors[0].exc_info is None

    # and listed under "Dead letters" in the admin
    changelist = reverse(CHANGELIST)
    page = cs_client.get(changelist + "?dead=yes")
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [delivery]
    assert "Dead letters" in cs_client.get(changelist).content.decode()
    # and counted on the admin index, linking to that list
    index = cs_client.get(reverse("admin:index")).content.decode()
    assert "1 webhook delivery could not be processed" in index
    assert f'href="{changelist}?dead=yes"' in index

    # when the cause is fixed and Customer Success reprocesses it
    monkeypatch.setattr(intake, "inbound_messages_record", real)
    with whatsapp.on_commit():
        cs_client.post(
            changelist, {"action": "reprocess", "_selected_action": [delivery.pk]}
        )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == ("processed", "")
    assert Message.objects.count() == 1
    assert not cs_client.get(changelist + "?dead=yes").context["cl"].result_list
    index = cs_client.get(reverse("admin:index")).content.decode()
    assert "could not be processed" not in index


def test_the_dead_letter_count_is_shown_only_to_who_may_view_deliveries(client):
    for n in range(2):
        WebhookDelivery.objects.create(
            body="{}", body_sha256=f"{n:064d}", status="failed", attempts=20
        )
    staff = StaffUserFactory()
    staff.user_permissions.add(Permission.objects.get(codename="view_company"))
    client.force_login(staff)
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert "could not be processed" not in index.content.decode()
    staff.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    index = client.get(reverse("admin:index")).content.decode()
    assert "2 webhook deliveries could not be processed" in index


def test_a_reprocess_that_fails_again_is_reported_not_a_server_error(
    cs_client, monkeypatch
):
    delivery = WebhookDelivery.objects.create(
        body="{}", body_sha256="1" * 64, status="failed", attempts=20
    )

    def down(**kwargs):
        raise RuntimeError("still broken")

    monkeypatch.setattr(intake, "delivery_process", down)
    response = cs_client.post(
        reverse(CHANGELIST),
        {"action": "reprocess", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert f"Delivery {delivery.pk}: RuntimeError" in response.content.decode()
