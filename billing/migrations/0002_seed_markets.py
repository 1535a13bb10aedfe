"""Seed markets and calling-code prefixes from Meta's table of 2026-03-30.

The table is the baseline: it applies from the start of time. Later market
moves are new MarketPrefix rows with their own effective dates.
"""

import csv
from datetime import UTC, datetime
from pathlib import Path

from django.db import migrations

CSV = Path(__file__).resolve().parent.parent / "data" / "markets_2026-03-30.csv"
BASELINE = datetime(2000, 1, 1, tzinfo=UTC)


def seed(apps, schema_editor):
    Market = apps.get_model("billing", "Market")
    MarketPrefix = apps.get_model("billing", "MarketPrefix")
    Market.objects.get_or_create(name="Other")
    with CSV.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["calling_code_prefix"].strip() == "*":
                continue  # "All other countries": the Other market is the fallback
            market, _ = Market.objects.get_or_create(name=row["market"].strip())
            MarketPrefix.objects.get_or_create(
                prefix=row["calling_code_prefix"].strip(),
                country=row["country"].strip(),
                effective_from=BASELINE,
                defaults={"market": market},
            )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
