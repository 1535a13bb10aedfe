"""The SQL of the charge derivation: the classification of every delivered message by the
pure rules (C2-C5, F1, F2), its rate (C6) and its invoice (C7), as one SELECT that
``charges.charges_sync`` inserts from."""

import itertools
from contextlib import contextmanager
from datetime import datetime

from django.db import connection
from django.utils import timezone

from accounts.models import Company

from .. import rules
from ..models import (
    Invoice,
)
from ..selectors.charges import charge_facts, market_segments_sql, other_market_id
from ..selectors.pricing import PolicyStep, policy_timeline


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _answers_sql(timeline: list[PolicyStep]) -> tuple[str, list]:
    """The rule's answers as a table: one row per input class (policy step,
    category, window open, our entry point, the provider's), with what
    ``rules.charge_for`` and ``rules.rate_category`` answer for it (C2-C5, F1, F2).

    Not a second implementation: every answer is the pure functions' own,
    computed here for every class and joined on readable columns.
    """
    rows, params = [], []
    for step_index, step in enumerate(timeline):
        for category in rules.CATEGORIES:
            for window_open, entry_point, provider_entry_point in itertools.product(
                (False, True), repeat=3
            ):
                billable, reason = rules.charge_for(
                    category=category,
                    window_open=window_open,
                    terms=step.terms,
                    entry_point=entry_point,
                    provider_entry_point=provider_entry_point,
                )
                # Typed literals: a column of NULLs only (no policy at all, e.g. a
                # flushed database) would be text on PostgreSQL.
                policy = "NULL" if step.policy_id is None else int(step.policy_id)
                rows.append(
                    f"({step_index}, %s, {int(window_open)}, {int(entry_point)}, "
                    f"{int(provider_entry_point)}, {'TRUE' if billable else 'FALSE'}, "
                    f"%s, CAST({policy} AS INTEGER), %s)"
                )
                params += [category, reason, rules.rate_category(category, step.terms)]
    return "VALUES " + ", ".join(rows), params


def _policy_step_sql(timeline: list[PolicyStep]) -> tuple[str, list]:
    """The index in ``timeline`` of the policy step in force at delivery (F1)."""
    if len(timeline) == 1:
        return "0", []
    adapt = connection.ops.adapt_datetimefield_value
    whens, params = [], []
    for index, step in enumerate(timeline[1:]):
        whens.append("WHEN f_delivered_at < %s THEN %s")
        params += [adapt(step.since), index]
    return f"CASE {' '.join(whens)} ELSE %s END", [*params, len(timeline) - 1]


def _rate_segments_sql(*, company: Company) -> tuple[str, list]:
    """C6, once per (market, category, span) instead of once per message: the
    spans of time in which one rate is in force for the company (``market_id,
    category, since, until, rate``; ``until`` NULL: open-ended).

    A span starts at every ``effective_from`` of a rate of the company's card or
    the price list's (in the billing currency); the rate in force at its start
    (the company's card first, then the latest ``effective_from``) holds until
    the next one. Before the first span there is no rate (the charge has none,
    which blocks the invoice).
    """
    q = _quote
    rate, card = q("billing_rate"), q("billing_ratecard")
    rows = f"""
        SELECT rt.{q("market_id")} AS market_id, rt.{q("category")} AS category,
               rt.{q("effective_from")} AS r_from, rt.{q("rate")} AS rate,
               CASE WHEN rc.{q("company_id")} IS NULL THEN 1 ELSE 0 END AS fallback
          FROM {rate} rt JOIN {card} rc ON rc.{q("id")} = rt.{q("card_id")}
         WHERE rc.{q("currency")} = %s
           AND (rc.{q("company_id")} = %s OR rc.{q("company_id")} IS NULL)
    """  # noqa: S608 - identifiers are quoted constants, values are parameters
    segments = """
        SELECT market_id, category, since,
               LEAD(since) OVER (PARTITION BY market_id, category ORDER BY since)
                   AS until,
               rate
          FROM (
            SELECT pt.market_id, pt.category, pt.since, r.rate,
                   ROW_NUMBER() OVER (
                       PARTITION BY pt.market_id, pt.category, pt.since
                       ORDER BY r.fallback, r.r_from DESC
                   ) AS rn
              FROM (SELECT DISTINCT market_id, category, r_from AS since
                      FROM card_rates) pt
              JOIN card_rates r
                ON r.market_id = pt.market_id AND r.category = pt.category
               AND r.r_from <= pt.since
          ) ranked
         WHERE rn = 1
    """
    return (
        f"card_rates AS ({rows}), rate_segments AS {_materialized()}({segments})",
        [company.billing_currency, company.pk],
    )


def _charge_select(
    *,
    company: Company,
    until: datetime,
    invoice: Invoice | None,
    entry_points: bool,
    conversations=None,
    messages=None,
) -> tuple[str, list]:
    """SELECT of complete charge rows, in four named steps: the facts of every
    delivered message still without a charge (of ``conversations`` and
    ``messages`` only, when given); keyed by the rule's input class and the recipient's market (C6, from
    the contact's market spans); answered by the table of the rule's answers
    (``_answers_sql``); priced at the rate in force (C6, the company's card
    first, from the rate spans)."""
    timeline = policy_timeline(company=company)
    free_form = any(step.terms.service_in_window for step in timeline)
    facts_sql, facts_params = charge_facts(
        company=company,
        until=until,
        free_form=free_form,
        entry_points=entry_points,
        conversations=conversations,
        messages=messages,
    ).query.sql_with_params()
    markets_sql, markets_params = market_segments_sql(company=company)
    rates_sql, rates_params = _rate_segments_sql(company=company)
    step_sql, step_params = _policy_step_sql(timeline)
    answers_sql, answers_params = _answers_sql(timeline)
    invoice_sql, invoice_params = _invoice_column(company=company, invoice=invoice)
    msg = _quote("messaging_message")
    # Optimisation fences: without them the planner inlines the steps and
    # evaluates the window subquery once per reference (key, join).
    # Every input class has an answer, so the answers join is a LEFT JOIN: the
    # planner then keeps the messages' row estimate (an inner join on five
    # columns is estimated at one row) and hashes the rate spans instead of
    # scanning all of them per message; and a message of a category the rules
    # do not know fails the INSERT (billable is NOT NULL) instead of being left
    # out silently.
    fence = " OFFSET 0" if connection.vendor == "postgresql" else " LIMIT -1 OFFSET 0"
    sql = f"""
        WITH {markets_sql}, {rates_sql},
        facts AS ({facts_sql}{fence}),
        keyed AS (
            SELECT facts.*,
                   COALESCE(ms.market_id, %s) AS f_market,
                   {step_sql} AS policy_step,
                   CASE WHEN f_window IS NULL THEN 0 ELSE 1 END AS window_open,
                   CASE WHEN f_entry_point IS NULL THEN 0 ELSE 1 END AS entry_point,
                   CASE WHEN f_provider_type = %s THEN 1 ELSE 0 END
                       AS provider_entry_point
            FROM facts
            LEFT JOIN market_segments ms
              ON ms.contact_id = facts.f_contact
             AND ms.since <= facts.f_delivered_at
             AND (ms.until IS NULL OR facts.f_delivered_at < ms.until){fence}
        ),
        answers (policy_step, category, window_open, entry_point,
                 provider_entry_point, billable, reason, policy_id, rate_category)
            AS ({answers_sql}),
        answered AS (
            SELECT keyed.*, answers.billable, answers.reason, answers.policy_id,
                   answers.rate_category
            FROM keyed
            LEFT JOIN answers
              ON answers.policy_step = keyed.policy_step
             AND answers.category = keyed.f_category
             AND answers.window_open = keyed.window_open
             AND answers.entry_point = keyed.entry_point
             AND answers.provider_entry_point = keyed.provider_entry_point{fence}
        ),
        priced AS (
            SELECT answered.*, rs.rate
            FROM answered
            LEFT JOIN rate_segments rs
              ON rs.market_id = answered.f_market
             AND rs.category = answered.rate_category
             AND rs.since <= answered.f_delivered_at
             AND (rs.until IS NULL OR answered.f_delivered_at < rs.until){fence}
        )
        SELECT x.f_message, %s, x.f_category, x.f_market, x.f_delivered_at, x.billable,
               x.reason, x.rate, CASE WHEN x.billable THEN x.rate ELSE 0 END, %s,
               x.f_window,
               (SELECT w.{_quote("provider_timestamp")} FROM {msg} w
                 WHERE w.{_quote("id")} = x.f_window),
               x.policy_id, x.f_entry_point,
               %s, {invoice_sql}
        FROM priced x
        WHERE x.f_category <> %s OR x.billable OR x.reason <> %s
    """  # noqa: S608 - identifiers are quoted constants, values are parameters
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params = [
        *markets_params,
        *rates_params,
        *facts_params,
        other_market_id(),
        *step_params,
        rules.PROVIDER_FREE_ENTRY_POINT,
        *answers_params,
        company.pk,
        company.billing_currency,
        now,
        *invoice_params,
        # Free-form messages get a charge row when charged, or when free for
        # another reason than C5 (D4 explains it); plain free ones need none.
        rules.SERVICE,
        rules.Reason.SERVICE_FREE,
    ]
    return sql, params


CHARGE_COLUMNS = [
    "message_id",
    "company_id",
    "category",
    "market_id",
    "delivered_at",
    "billable",
    "reason",
    "rate",
    "amount",
    "currency",
    "window_message_id",
    "window_opened_at",
    "policy_id",
    "entry_point_message_id",
    "created_at",
    "invoice_id",
]


def _invoice_column(*, company: Company, invoice: Invoice | None) -> tuple[str, list]:
    """SQL for a new charge's invoice (C7): the draft being computed takes the
    charges delivered in its month, and the late ones of months whose invoice is
    already finalized (carried over). Charges of any other earlier month stay
    unbilled: they belong to their own month's invoice, drafted or not yet."""
    if invoice is None:
        return "NULL", []
    adapt = connection.ops.adapt_datetimefield_value
    frozen: list[list] = []
    for start, end in (
        Invoice.objects.filter(
            company=company,
            status__in=Invoice.FROZEN,
            period_end__lte=invoice.period_start,
        )
        .order_by("period_start")
        .values_list("period_start", "period_end")
    ):
        if frozen and frozen[-1][1] == start:
            frozen[-1][1] = end  # consecutive months make one range
        else:
            frozen.append([start, end])
    tests = ["x.f_delivered_at >= %s"] + [
        "(x.f_delivered_at >= %s AND x.f_delivered_at < %s)" for _ in frozen
    ]
    params = [adapt(invoice.period_start)] + [
        adapt(v) for period in frozen for v in period
    ]
    return f"CASE WHEN {' OR '.join(tests)} THEN %s ELSE NULL END", [
        *params,
        invoice.pk,
    ]


def company_queries_planner() -> None:
    """For the rest of the caller's transaction (PostgreSQL): one company's
    queries take milliseconds, so no parallel workers (a billing run already
    keeps every core busy, one company per worker) and no JIT (the planner's
    cost estimates over the big tables compile queries whose compilation takes
    longer than their run: 15 ms for a 30 ms DELETE at 10 M messages)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL max_parallel_workers_per_gather TO 0")
        cursor.execute("SET LOCAL jit TO off")


@contextmanager
def charge_planner(cursor):
    """The charge INSERT's planner settings (PostgreSQL), for that statement:
    room to hash a big company's "not yet charged" set, and hash joins for the
    spans and the answers. The steps' row estimates collapse to one row (the
    five-column join with the answers, the company filters of the messages and
    of their conversations), which made the planner join the market and rate
    spans by nested loop: every span compared with every message (half of the
    SELECT at 10 M messages). With nested loops off the joins that have an
    equality are hashed; the prefix match (no equality) stays a nested loop, and
    the window and entry point lookups are subqueries, not joins. No JIT: the
    cost of the disabled plans would compile it for a query of milliseconds
    (and stays off for the transaction, as ``company_queries_planner`` has it).
    The rest of the caller's transaction joins with nested loops again."""
    if connection.vendor != "postgresql":
        yield
        return
    cursor.execute("SET LOCAL work_mem TO '128MB'")
    cursor.execute("SET LOCAL enable_nestloop TO off")
    cursor.execute("SET LOCAL jit TO off")
    yield
    # Not reached when the statement failed: its rollback undoes the settings.
    cursor.execute("RESET enable_nestloop")


def _materialized() -> str:
    """Computed once per statement (PostgreSQL): the planner, misjudging the
    rows of the steps before, joins the spans by nested loop, and would
    recompute their window functions for every message otherwise."""
    return "MATERIALIZED " if connection.vendor == "postgresql" else ""
