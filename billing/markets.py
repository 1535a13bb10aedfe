"""Markets and their calling-code prefixes, from Meta's table (effective-dated)."""

import csv
from datetime import UTC, datetime
from pathlib import Path

CSV = Path(__file__).resolve().parent / "data" / "markets_2026-03-30.csv"
# The 2026-03-30 table is the baseline: it applies from the start of time. Later
# market moves are new MarketPrefix rows with their own effective dates.
BASELINE = datetime(2000, 1, 1, tzinfo=UTC)
OTHER = "Other"


def markets_seed(*, market_model=None, prefix_model=None, path: Path = CSV) -> int:
    """Load the table idempotently; returns the number of prefixes created.

    Takes the models as arguments so the data migration can pass its
    historical ones.
    """
    if market_model is None or prefix_model is None:
        from .models import Market, MarketPrefix

        market_model, prefix_model = Market, MarketPrefix
    market_model.objects.get_or_create(name=OTHER)
    created = 0
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            prefix = row["calling_code_prefix"].strip()
            if prefix == "*":
                continue  # "All other countries": the Other market is the fallback
            market, _ = market_model.objects.get_or_create(name=row["market"].strip())
            _, new = prefix_model.objects.get_or_create(
                prefix=prefix,
                country=row["country"].strip(),
                effective_from=BASELINE,
                defaults={"market": market},
            )
            created += new
    return created
