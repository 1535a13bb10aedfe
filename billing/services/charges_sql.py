"""The SQL of the charge derivation: the classification of every delivered message by the
pure rules (C2-C5, F1, F2), its rate (C6) and its invoice (C7), as one SELECT that
``charges.charges_sync`` inserts from."""

import itertools
from datetime import datetime

from django.db import connection
from django.utils import timezone

from accounts.models import Company

from .. import rules
from ..models import (
    Invoice,
)
from ..selectors.charges import charge_facts
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


def _charge_select(
    *, company: Company, until: datetime, invoice: Invoice | None, entry_points: bool
) -> tuple[str, list]:
    """SELECT of complete charge rows, in four named steps: the facts of every
    delivered message still without a charge; keyed by the rule's input class;
    answered by the table of the rule's answers (``_answers_sql``); priced at
    the rate in force (C6, the company's card first)."""
    timeline = policy_timeline(company=company)
    free_form = any(step.terms.service_in_window for step in timeline)
    facts_sql, facts_params = charge_facts(
        company=company, until=until, free_form=free_form, entry_points=entry_points
    ).query.sql_with_params()
    step_sql, step_params = _policy_step_sql(timeline)
    answers_sql, answers_params = _answers_sql(timeline)
    invoice_sql, invoice_params = _invoice_column(company=company, invoice=invoice)
    rate_card_table, rate_table = _quote("billing_ratecard"), _quote("billing_rate")
    msg = _quote("messaging_message")
    # Optimisation fences: without them the planner inlines the steps and
    # evaluates the window subquery once per reference (key, join).
    fence = " OFFSET 0" if connection.vendor == "postgresql" else " LIMIT -1 OFFSET 0"
    sql = f"""
        WITH facts AS ({facts_sql}{fence}),
        keyed AS (
            SELECT facts.*,
                   {step_sql} AS policy_step,
                   CASE WHEN f_window IS NULL THEN 0 ELSE 1 END AS window_open,
                   CASE WHEN f_entry_point IS NULL THEN 0 ELSE 1 END AS entry_point,
                   CASE WHEN f_provider_type = %s THEN 1 ELSE 0 END
                       AS provider_entry_point
            FROM facts{fence}
        ),
        answers (policy_step, category, window_open, entry_point,
                 provider_entry_point, billable, reason, policy_id, rate_category)
            AS ({answers_sql}),
        answered AS (
            SELECT keyed.*, answers.billable, answers.reason, answers.policy_id,
                   answers.rate_category
            FROM keyed
            JOIN answers
              ON answers.policy_step = keyed.policy_step
             AND answers.category = keyed.f_category
             AND answers.window_open = keyed.window_open
             AND answers.entry_point = keyed.entry_point
             AND answers.provider_entry_point = keyed.provider_entry_point{fence}
        ),
        priced AS (
            SELECT answered.*,
                (SELECT rt.{_quote("rate")} FROM {rate_table} rt
                   JOIN {rate_card_table} rc ON rc.{_quote("id")} = rt.{_quote("card_id")}
                  WHERE rt.{_quote("market_id")} = answered.f_market
                    AND rt.{_quote("category")} = answered.rate_category
                    AND rt.{_quote("effective_from")} <= answered.f_delivered_at
                    AND rc.{_quote("currency")} = %s
                    AND (rc.{_quote("company_id")} = %s OR rc.{_quote("company_id")} IS NULL)
                  ORDER BY CASE WHEN rc.{_quote("company_id")} IS NULL THEN 1 ELSE 0 END,
                           rt.{_quote("effective_from")} DESC
                  LIMIT 1) AS rate
            FROM answered{fence}
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
        *facts_params,
        *step_params,
        rules.PROVIDER_FREE_ENTRY_POINT,
        *answers_params,
        company.billing_currency,
        company.pk,
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
