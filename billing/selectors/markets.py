"""Which market a number is priced in (C6), read-only, for pages that show it."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q

from .. import rules
from ..models import MarketPrefix


def markets_of_numbers(*, wa_ids: Iterable[str], at: datetime) -> dict[str, str]:
    """C6: ``{wa_id: market name}`` with the prefixes in force at ``at``, one
    query whatever the number of numbers (the names are the stored English
    ones; ``billing_tags.market_label`` translates them)."""
    wa_ids = list(wa_ids)
    if not wa_ids:
        return {}
    prefixes = list(
        MarketPrefix.objects.filter(effective_from__lte=at)
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gt=at))
        .order_by("-effective_from")
        .values_list("prefix", "market__name")
    )
    return {wa_id: rules.market_for(wa_id, prefixes) for wa_id in wa_ids}
