"""Reads that feed the charge derivation: delivered outbound messages and the facts each
charge needs (C1, B1, C6, F2), as querysets the INSERT ... SELECT of
``billing.services.charges_sync`` embeds."""

from datetime import datetime

from django.db import connection
from django.db.models import (
    CharField,
    F,
    IntegerField,
    Q,
    Subquery,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import (
    Cast,
    Coalesce,
    Length,
    NullIf,
)

from accounts.models import Company
from messaging.models import Contact, Message
from messaging.windows import entry_point_openers, window_openers

from .. import rules
from ..models import (
    Charge,
    Market,
    MarketPrefix,
)


def market_segments_sql(*, company: Company) -> tuple[str, list]:
    """C6, once per contact instead of once per message: for each of the company's
    contacts, the spans of time in which one market is the longest calling-code
    prefix in force (``contact_id, since, until, market_id``; ``until`` NULL:
    open-ended; ``market_id`` NULL: no prefix in force, the Other market).

    A span starts at every ``effective_from`` and ``effective_until`` of the
    prefixes matching the number; inside a span the prefixes in force do not
    change, so the winner at its start (longest prefix, then the latest
    ``effective_from``, as ``rules.market_for``) holds for all of it. A message
    joins the span of its contact containing its delivery instant.
    """
    q = connection.ops.quote_name
    longest = (
        MarketPrefix.objects.values_list(Length("prefix"), flat=True)
        .order_by(-Length("prefix"))
        .first()
        or 1
    )
    contact, prefix = q(Contact._meta.db_table), q(MarketPrefix._meta.db_table)
    candidates = ", ".join(
        f"SUBSTR(c.{q('wa_id')}, 1, {n})" for n in range(1, longest + 1)
    )
    sql = f"""
        SELECT c.{q("id")} AS contact_id, p.{q("market_id")} AS market_id,
               LENGTH(p.{q("prefix")}) AS len, p.{q("effective_from")} AS p_from,
               p.{q("effective_until")} AS p_until
          FROM {contact} c JOIN {prefix} p ON p.{q("prefix")} IN ({candidates})
         WHERE c.{q("company_id")} = %s
    """  # noqa: S608 - identifiers are quoted constants, values are parameters
    segments = """
        SELECT contact_id, since,
               LEAD(since) OVER (PARTITION BY contact_id ORDER BY since) AS until,
               market_id
          FROM (
            SELECT pt.contact_id, pt.since, m.market_id,
                   ROW_NUMBER() OVER (
                       PARTITION BY pt.contact_id, pt.since
                       ORDER BY m.len DESC, m.p_from DESC, m.market_id
                   ) AS rn
              FROM (SELECT contact_id, p_from AS since FROM contact_prefixes
                    UNION
                    SELECT contact_id, p_until FROM contact_prefixes
                     WHERE p_until IS NOT NULL) pt
              LEFT JOIN contact_prefixes m
                ON m.contact_id = pt.contact_id AND m.p_from <= pt.since
               AND (m.p_until IS NULL OR m.p_until > pt.since)
          ) ranked
         WHERE rn = 1
    """
    return (
        f"contact_prefixes AS ({sql}), market_segments AS {_materialized()}({segments})",
        [company.pk],
    )


def other_market_id() -> int:
    """C6: the market of a number no prefix in force matches."""
    return Market.objects.get_or_create(name=rules.OTHER_MARKET)[0].pk


def delivered_messages(*, company: Company, until: datetime):
    """Delivered outbound messages of the company before ``until`` (C1)."""
    return Message.objects.filter(
        company=company,
        direction=Message.Direction.OUTBOUND,
        delivered_at__isnull=False,
        delivered_at__lt=until,
    )


def has_referrals(*, company: Company, until: datetime) -> bool:
    """F2: whether the company has any ad-referred inbound message before ``until``
    (without one, no free entry point window can exist)."""
    return Message.objects.filter(
        company=company,
        direction=Message.Direction.INBOUND,
        referral__isnull=False,
        provider_timestamp__lt=until,
    ).exists()


def changed_messages(
    *, conversations=None, messages=None, of_charges: bool = False
) -> Q | None:
    """The messages an incremental sync rebuilds (or, ``of_charges``, their
    charges): every message of ``conversations`` (an inbound message may open a
    window over its conversation's deliveries, C3) and the ``messages``
    themselves (a delivery status changes its own message's charge only).
    None: no restriction, every message."""
    if conversations is None and messages is None:
        return None
    via = "message__" if of_charges else ""
    q = Q(pk__in=[])  # nothing, OR-ed with what changed
    if conversations:
        q |= Q(**{f"{via}conversation_id__in": conversations})
    if messages:
        q |= Q(**{("message_id__in" if of_charges else "pk__in"): messages})
    return q


def charge_facts(
    *,
    company: Company,
    until: datetime,
    free_form: bool,
    entry_points: bool,
    conversations=None,
    messages=None,
):
    """Delivered messages without a charge yet, with the facts a charge needs:
    the category ("service" for free-form), the recipient (whose market, C6, the
    charge query joins from ``market_segments_sql``), the
    inbound message whose window was open at delivery (B1), the referral whose
    free entry point window covered it (F2) and the provider's pricing type.
    Free-form messages only when ``free_form`` (a policy may charge them); only
    those of ``changed_messages(conversations, messages)`` when either is
    given (an incremental sync).
    Each subquery appears once per row."""
    window = window_openers(conversation_ref="conversation_id", at_ref="delivered_at")
    entry_point = entry_point_openers(
        conversation_ref="conversation_id", at_ref="delivered_at"
    )
    # The conversation (for its contact) through the company's own index: a
    # message's conversation is always of its company; without the filter the
    # planner hashed every conversation of the table for each company's run.
    delivered = delivered_messages(company=company, until=until).filter(
        conversation__company=company
    )
    changed = changed_messages(conversations=conversations, messages=messages)
    messages = delivered
    if changed is not None:
        messages = messages.filter(changed)
    if not free_form:
        # As an expression no index serves: ANDed with the index of every
        # template message in the table, the company's bitmap scan read all
        # of them (3.3 M at 10 M messages) for each company's run.
        messages = messages.alias(has_template=F("template_id") + 0).filter(
            has_template__isnull=False
        )
    return (
        # Only this company's charges: during a run the table grows faster than
        # its statistics, and an anti-join against all of it would be scanned whole.
        # "Not yet charged" as NOT IN: PostgreSQL never turns it into a join, and
        # hashes the company's charged messages once per statement (a hashed
        # SubPlan), so no plan re-reads billing_charge per message whatever its
        # statistics say (an analysed empty table made the anti-join a nested
        # loop over a sequential scan of the table being filled: quadratic).
        messages.exclude(
            pk__in=Charge.objects.filter(company=company).values("message_id")
        )
        .order_by()  # the INSERT needs no order; skip the default sort
        .values(
            f_message=F("pk"),
            f_category=Coalesce(
                NullIf("template_category", Value("")),
                Value(rules.SERVICE),
                output_field=CharField(),
            ),
            f_delivered_at=F("delivered_at"),
            f_contact=F("conversation__contact_id"),
            f_window=Subquery(window.values("pk")[:1]),
            # Without any ad-referred message there is nothing to look for.
            f_entry_point=Subquery(entry_point.values("pk")[:1])
            if entry_points
            else Cast(Value(None), IntegerField()),
            f_provider_type=KeyTextTransform("type", "pricing"),
        )
    )


def _materialized() -> str:
    """Computed once per statement (PostgreSQL): the planner, misjudging the
    rows of the steps before, joins the spans by nested loop, and would
    recompute their window functions for every message otherwise."""
    return "MATERIALIZED " if connection.vendor == "postgresql" else ""
