"""The recipient's market (C6): the longest calling-code prefix of the number."""

from collections.abc import Iterable

OTHER_MARKET = "Other"


def market_for(wa_id: str, prefixes: Iterable[tuple[str, str]]) -> str:
    """C6: the market of the longest calling-code prefix of ``wa_id``, else Other.

    ``prefixes`` are (prefix digits, market) pairs in force at the instant.
    """
    best, market = -1, OTHER_MARKET
    for prefix, name in prefixes:
        if wa_id.startswith(prefix) and len(prefix) > best:
            best, market = len(prefix), name
    return market
