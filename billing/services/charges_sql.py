"""The SQL of the charge derivation: the classification of every delivered message by the
pure rules (C2-C5, F1, F2), its rate (C6) and its invoice (C7), as one SELECT that
``charges.charges_sync`` inserts from."""

from datetime import datetime

from django.db import connection
from django.utils import timezone

from accounts.models import Company

from .. import rules
from ..models import (
    Invoice,
)
from ..selectors.charges import charge_facts
from ..selectors.pricing import _PolicyStep, policy_timeline


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _classification_sql(timeline: list[_PolicyStep]) -> tuple[str, list, str, list]:
    """The SQL twin of rules.charge_for and rules.rate_category (C2-C5, F1, F2).

    Not a re-implementation: each row gets a key (policy step, category, window
    open, our entry point, the provider's) and the answers for every key are
    computed here by the pure functions and looked up with CASE. Returns the
    key expression and the SELECT list of billable, reason, policy_id, rate_category.
    """
    adapt = connection.ops.adapt_datetimefield_value
    step_sql, step_params = "0", []
    if len(timeline) > 1:
        whens = " ".join("WHEN q.f_delivered_at < %s THEN %s" for _ in timeline[1:])
        step_sql = f"CASE {whens} ELSE %s END"
        for i, step in enumerate(timeline[1:]):
            step_params += [adapt(step.since), i]
        step_params.append(len(timeline) - 1)
    categories = " ".join("WHEN %s THEN %s" for _ in rules.CATEGORIES)
    key_sql = (
        f"(({step_sql}) * 32"
        f" + (CASE q.f_category {categories} ELSE -1000 END) * 8"
        " + (CASE WHEN q.f_window IS NULL THEN 0 ELSE 4 END)"
        " + (CASE WHEN q.f_entry_point IS NULL THEN 0 ELSE 2 END)"
        " + (CASE WHEN q.f_provider_type = %s THEN 1 ELSE 0 END))"
    )
    key_params = [
        *step_params,
        *[v for i, c in enumerate(rules.CATEGORIES) for v in (c, i)],
        rules.PROVIDER_FREE_ENTRY_POINT,
    ]
    answers: dict[str, list[tuple[int, object]]] = {
        "billable": [],
        "reason": [],
        "policy_id": [],
        "rate_category": [],
    }
    for s, step in enumerate(timeline):
        for c, category in enumerate(rules.CATEGORIES):
            for window in (False, True):
                for ours in (False, True):
                    for theirs in (False, True):
                        key = s * 32 + c * 8 + window * 4 + ours * 2 + theirs
                        billable, reason = rules.charge_for(
                            category=category,
                            window_open=window,
                            terms=step.terms,
                            entry_point=ours,
                            provider_entry_point=theirs,
                        )
                        answers["billable"].append((key, billable))
                        answers["reason"].append((key, reason))
                        answers["policy_id"].append((key, step.policy_id))
                        answers["rate_category"].append(
                            (key, rules.rate_category(category, step.terms))
                        )
    columns, params = [], []
    for name, pairs in answers.items():
        if name in ("billable", "policy_id"):
            # Literals typed in SQL: an all-NULL CASE (no policy at all, e.g. a
            # flushed database) would be text on PostgreSQL, hence the CAST.
            def literal(v):
                if v is None:
                    return "NULL"
                if isinstance(v, bool):
                    return "1 = 1" if v else "1 = 0"
                return str(int(v))

            whens = " ".join(f"WHEN {int(k)} THEN {literal(v)}" for k, v in pairs)
            case = f"CASE a.k {whens} END"
            if name == "policy_id":
                case = f"CAST({case} AS INTEGER)"
            columns.append(f"{case} AS {name}")
        else:
            whens = " ".join(f"WHEN {int(k)} THEN %s" for k, _ in pairs)
            columns.append(f"CASE a.k {whens} END AS {name}")
            params += [v for _, v in pairs]
    return key_sql, key_params, ", ".join(columns), params


def _charge_select(
    *, company: Company, until: datetime, invoice: Invoice | None, entry_points: bool
) -> tuple[str, list]:
    """SELECT of complete charge rows: the classification of _classification_sql
    (C2-C5, F1, F2) and the rate subquery applying C6 (the company's card first)."""
    timeline = policy_timeline(company=company)
    free_form = any(step.terms.service_in_window for step in timeline)
    facts_sql, facts_params = charge_facts(
        company=company, until=until, free_form=free_form, entry_points=entry_points
    ).query.sql_with_params()
    key_sql, key_params, class_sql, class_params = _classification_sql(timeline)
    invoice_sql, invoice_params = _invoice_column(company=company, invoice=invoice)
    rate_card_table, rate_table = _quote("billing_ratecard"), _quote("billing_rate")
    msg = _quote("messaging_message")
    # Optimisation fences: without them the planner inlines the subqueries and
    # evaluates the window subquery once per reference (key, join).
    fence = " OFFSET 0" if connection.vendor == "postgresql" else " LIMIT -1 OFFSET 0"
    sql = f"""
        SELECT x.f_message, %s, x.f_category, x.f_market, x.f_delivered_at, x.billable,
               x.reason, x.rate, CASE WHEN x.billable THEN x.rate ELSE 0 END, %s,
               x.f_window,
               (SELECT w.{_quote("provider_timestamp")} FROM {msg} w
                 WHERE w.{_quote("id")} = x.f_window),
               x.policy_id, x.f_entry_point,
               %s, {invoice_sql}
        FROM (
            SELECT b.*,
                (SELECT rt.{_quote("rate")} FROM {rate_table} rt
                   JOIN {rate_card_table} rc ON rc.{_quote("id")} = rt.{_quote("card_id")}
                  WHERE rt.{_quote("market_id")} = b.f_market
                    AND rt.{_quote("category")} = b.rate_category
                    AND rt.{_quote("effective_from")} <= b.f_delivered_at
                    AND rc.{_quote("currency")} = %s
                    AND (rc.{_quote("company_id")} = %s OR rc.{_quote("company_id")} IS NULL)
                  ORDER BY CASE WHEN rc.{_quote("company_id")} IS NULL THEN 1 ELSE 0 END,
                           rt.{_quote("effective_from")} DESC
                  LIMIT 1) AS rate
            FROM (
                SELECT a.*, {class_sql}
                FROM (
                    SELECT q.*, {key_sql} AS k FROM ({facts_sql}{fence}) q{fence}
                ) a{fence}
            ) b{fence}
        ) x
        WHERE x.f_category <> %s OR x.billable OR x.reason <> %s
    """  # noqa: S608 - identifiers are quoted constants, values are parameters
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params = [
        company.pk,
        company.billing_currency,
        now,
        *invoice_params,
        company.billing_currency,
        company.pk,
        *class_params,
        *key_params,
        *facts_params,
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
