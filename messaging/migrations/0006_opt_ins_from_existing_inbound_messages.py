"""F8 for the data already there: a contact who wrote to a business number has
opted in to it, from their first inbound message (its provider time). Contacts
who only ever received templates get no opt-in: none is known for them, so
business-initiated templates to them need one recorded (import or by hand)
while their company requires opt-ins."""

from django.db import migrations
from django.db.models import Min

BATCH = 2000


def opt_ins_from_inbound(apps, schema_editor):
    Message = apps.get_model("messaging", "Message")
    ContactOptIn = apps.get_model("messaging", "ContactOptIn")
    firsts = (
        Message.objects.filter(direction="in")
        .values(
            "company_id",
            "conversation__contact_id",
            "conversation__business_number_id",
        )
        .annotate(first=Min("provider_timestamp"))
        .order_by("conversation__contact_id", "conversation__business_number_id")
    )
    batch = []
    for row in firsts.iterator(chunk_size=BATCH):
        batch.append(
            ContactOptIn(
                company_id=row["company_id"],
                contact_id=row["conversation__contact_id"],
                business_number_id=row["conversation__business_number_id"],
                source="inbound",
                opted_in_at=row["first"],
            )
        )
        if len(batch) >= BATCH:
            ContactOptIn.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        ContactOptIn.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0005_contact_opt_ins_and_template_events"),
    ]

    operations = [
        migrations.RunPython(opt_ins_from_inbound, migrations.RunPython.noop),
    ]
