"""Seed markets and calling-code prefixes from Meta's table of 2026-03-30."""

from django.db import migrations


def seed(apps, schema_editor):
    from billing.markets import markets_seed

    markets_seed(
        market_model=apps.get_model("billing", "Market"),
        prefix_model=apps.get_model("billing", "MarketPrefix"),
    )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
