"""Status events belong to the company of the number they were posted for, and
one status may be kept more than once with different timestamps (C1: the
earliest counts); idempotency keys are scoped to the sender with the request's
fingerprint; template names follow the provider's rule."""

import json
import re

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def status_events_company_fill(apps, schema_editor):
    """Set each stored event's company: its message's, or for events still
    waiting for their message, the company of the number named in the webhook
    delivery that carried them."""
    Event = apps.get_model("messaging", "MessageStatusEvent")
    Message = apps.get_model("messaging", "Message")
    BusinessNumber = apps.get_model("messaging", "BusinessNumber")
    Event.objects.filter(message__isnull=False).update(
        company_id=models.Subquery(
            Message.objects.filter(pk=models.OuterRef("message_id")).values(
                "company_id"
            )[:1]
        )
    )
    companies = dict(
        BusinessNumber.objects.values_list("phone_number_id", "company_id")
    )
    orphans = Event.objects.filter(message__isnull=True, delivery__isnull=False)
    for event in orphans.select_related("delivery").iterator():
        try:
            body = json.loads(event.delivery.body)
        except ValueError:
            continue
        for entry in body.get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                wamids = {s.get("id") for s in value.get("statuses") or []}
                number = (value.get("metadata") or {}).get("phone_number_id")
                if event.wamid in wamids and number in companies:
                    Event.objects.filter(pk=event.pk).update(
                        company_id=companies[number]
                    )


def idempotency_fingerprints_fill(apps, schema_editor):
    """Give messages sent with a key the fingerprint of the request they answered,
    so a retry across the upgrade is still answered with its message."""
    from messaging.rules import send_fingerprint

    Message = apps.get_model("messaging", "Message")
    keyed = Message.objects.filter(idempotency_key__isnull=False)
    for message in keyed.iterator():
        message.idempotency_fingerprint = send_fingerprint(
            conversation_id=message.conversation_id,
            text="" if message.template_id else message.body,
            template_id=message.template_id,
            params=[str(p) for p in message.template_params or []],
        )
        message.save(update_fields=["idempotency_fingerprint"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("messaging", "0002_message_referral_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="message",
            name="message_unique_idempotency_key",
        ),
        migrations.RemoveConstraint(
            model_name="messagestatusevent",
            name="statusevent_unique",
        ),
        migrations.AddField(
            model_name="message",
            name="idempotency_fingerprint",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AddField(
            model_name="messagestatusevent",
            name="company",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.company",
            ),
        ),
        migrations.RunPython(status_events_company_fill, migrations.RunPython.noop),
        migrations.RunPython(idempotency_fingerprints_fill, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.UniqueConstraint(
                condition=models.Q(("idempotency_key__isnull", False)),
                fields=("sender", "idempotency_key"),
                name="message_unique_idempotency_key",
            ),
        ),
        migrations.AddConstraint(
            model_name="messagestatusevent",
            constraint=models.UniqueConstraint(
                fields=("wamid", "company", "status", "timestamp"),
                name="statusevent_unique",
            ),
        ),
        migrations.AlterField(
            model_name="messagetemplate",
            name="name",
            field=models.CharField(
                max_length=512,
                validators=[
                    django.core.validators.RegexValidator(
                        re.compile("\\A[a-z0-9_]+\\Z"),
                        "Use lowercase letters, digits and underscores only, as "
                        "WhatsApp requires (e.g. order_shipped).",
                    )
                ],
                verbose_name="name",
            ),
        ),
    ]
