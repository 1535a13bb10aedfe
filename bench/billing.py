#!/usr/bin/env python
"""Billing benchmark on PostgreSQL: a month of generated traffic, the full billing
run, and one hand-written SQL aggregate over the same rows as an oracle.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/billing.py                      # 1,000 companies, 10 M messages
    ... bench/billing.py --messages 1000000 --companies 100    # the small size

The benchmark drops and recreates its own database (``wa_billing_bench`` on the
server of DATABASE_URL). It prints the time of the full billing run (every
company's invoice_compute, on ``--workers`` processes like Celery workers), the
time of the SQL aggregate giving the same totals, their ratio, and whether every
company's total matches. All companies bill in UTC here so the oracle stays a
single statement.
"""

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Its own database, dropped and recreated; BENCH_DATABASE names another one (two
# people benchmarking on one server).
BENCH_DB = os.environ.get("BENCH_DATABASE", "wa_billing_bench")
if not BENCH_DB.replace("_", "").isalnum():
    sys.exit("BENCH_DATABASE: letters, digits and underscores only")
MONTH = date(2026, 10, 1)
START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)
CONTACTS_PER_COMPANY = 40
# (calling code, market) mix of the generated contacts; 999 falls to "Other".
PREFIXES = ["34", "52", "1", "1809", "91", "44", "55", "999", "234", "62"]
RATES = {"marketing": "0.0615", "utility": "0.0200", "authentication": "0.0300"}


def _bench_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlparse(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/billing.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    return urlunparse(parts._replace(path="/" + BENCH_DB))


def _recreate_database(url: str) -> None:
    import psycopg

    admin = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")


def _setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    # The run only: the month so far's resync a run enqueues belongs to another
    # worker in production (eager here, it would run inside the measured run).
    os.environ.setdefault("BILLING_USAGE_SYNC_ON_CHANGE", "false")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    import django

    django.setup()


def _timed(label: str, fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    elapsed = time.perf_counter() - started
    print(f"{label:<44} {elapsed:10.2f} s", flush=True)
    return result, elapsed


def generate(companies: int, messages: int) -> None:
    """Build the month with set-based SQL (generate_series), not the ORM."""
    from django.db import connection

    prefixes = "ARRAY[" + ",".join(f"'{p}'" for p in PREFIXES) + "]"
    statements = [
        f"""INSERT INTO accounts_company (created_at, updated_at, name, slug, billing_email,
              billing_address, country, billing_currency, billing_timezone, tax_rate, legal_name, tax_id)
            SELECT now(), now(), 'Bench ' || g, 'bench-' || g, 'billing' || g || '@bench.example',
                   '', 'ES', 'EUR', 'UTC', 0, 'Bench ' || g || ' S.L.', ''
            FROM generate_series(1, {companies}) g""",
        """INSERT INTO licensing_licensecountchange (company_id, quantity, effective_at, note, created_at)
            SELECT id, 1 + id % 20, '2026-01-01T00:00:00Z', '', now() FROM accounts_company""",
        """INSERT INTO licensing_licenseprice (company_id, currency, monthly_amount, effective_at, note, created_at)
            VALUES (NULL, 'EUR', 15, '2026-01-01T00:00:00Z', '', now())""",
        """INSERT INTO billing_ratecard (company_id, currency, name, created_at)
            VALUES (NULL, 'EUR', 'Price list', now())""",
        f"""INSERT INTO billing_rate (card_id, market_id, category, rate, effective_from, created_at)
            SELECT (SELECT id FROM billing_ratecard), m.id, r.category, r.rate::numeric,
                   '2026-01-01T00:00:00Z', now()
            FROM billing_market m CROSS JOIN (VALUES {",".join(f"('{c}', '{v}')" for c, v in RATES.items())})
                 AS r(category, rate)""",
        """INSERT INTO messaging_businessnumber (created_at, updated_at, company_id, phone_number_id,
              display_phone_number, waba_id, label, is_active)
            SELECT now(), now(), id, 'bench' || id, '1555' || lpad(id::text, 7, '0'), '', '', true
            FROM accounts_company""",
        """INSERT INTO messaging_messagetemplate (created_at, updated_at, company_id, name, language,
              category, status, body, components)
            SELECT now(), now(), c.id, v.cat, 'en_US', v.cat, 'approved', 'Bench ' || v.cat, '[]'
            FROM accounts_company c
            CROSS JOIN (VALUES ('marketing'), ('utility'), ('authentication')) AS v(cat)""",
        f"""INSERT INTO messaging_contact (created_at, updated_at, company_id, wa_id, profile_name, country)
            SELECT now(), now(), c.id,
                   ({prefixes})[1 + (k % {len(PREFIXES)})] || lpad((c.id * 1000 + k)::text, 9, '0'),
                   '', ''
            FROM accounts_company c, generate_series(1, {CONTACTS_PER_COMPANY}) k""",
        """INSERT INTO messaging_conversation (created_at, updated_at, company_id, business_number_id,
              contact_id, last_inbound_at, last_message_at)
            SELECT now(), now(), ct.company_id, bn.id, ct.id, NULL, NULL
            FROM messaging_contact ct JOIN messaging_businessnumber bn ON bn.company_id = ct.company_id""",
        """CREATE TEMP TABLE bench_conv AS
            SELECT row_number() OVER (ORDER BY id) AS rn, id, company_id FROM messaging_conversation""",
        "CREATE INDEX ON bench_conv (rn)",
    ]
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
        cursor.execute("SELECT count(*) FROM bench_conv")
        (conversations,) = cursor.fetchone()
        chunk = 1_000_000
        for first in range(1, messages + 1, chunk):
            last = min(first + chunk - 1, messages)
            # g % 3: 0 inbound, 1 template (marketing / utility / authentication), 2 free-form.
            # Templates are delivered 2 s after sending, except every 20th.
            cursor.execute(
                f"""INSERT INTO messaging_message (direction, type, body, template_category,
                      template_params, wamid, provider_timestamp, status, delivered_at, error_title,
                      created_at, company_id, conversation_id, template_id)
                    SELECT s.direction, s.type, '', s.category, '[]', 'bench.' || s.g, s.ts,
                           CASE WHEN s.direction = 'in' THEN 'received'
                                WHEN s.g % 20 = 1 THEN 'sent' ELSE 'delivered' END,
                           CASE WHEN s.direction = 'out' AND s.g % 20 <> 1
                                THEN s.ts + interval '2 seconds' END,
                           '', now(), s.company_id, s.conversation_id, t.id
                    FROM (
                      SELECT g, bc.company_id, bc.id AS conversation_id,
                             timestamptz '2026-10-01 00:00:00+00'
                               + ((hashint4(g) & 2147483647) % 2678398) * interval '1 second' AS ts,
                             CASE g % 3 WHEN 0 THEN 'in' ELSE 'out' END AS direction,
                             CASE g % 3 WHEN 1 THEN 'template' ELSE 'text' END AS type,
                             CASE WHEN g % 3 <> 1 THEN ''
                                  ELSE (ARRAY['marketing', 'utility', 'utility', 'authentication'])[1 + (g / 3) % 4]
                             END AS category
                      FROM generate_series({first}, {last}) g
                      JOIN bench_conv bc ON bc.rn = 1 + (hashint4(g + 7) & 2147483647) % {conversations}
                    ) s
                    LEFT JOIN messaging_messagetemplate t
                      ON t.company_id = s.company_id AND t.category = s.category AND s.category <> ''""",
            )
            print(f"  messages {last:>12,}", flush=True)
        cursor.execute("""UPDATE messaging_conversation c SET last_inbound_at = x.ts, last_message_at = x.ts
            FROM (SELECT conversation_id, max(provider_timestamp) ts FROM messaging_message
                  WHERE direction = 'in' GROUP BY conversation_id) x WHERE x.conversation_id = c.id""")
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM ANALYZE"
        )  # as autovacuum would have, for index-only scans


def referrals_add() -> None:
    """One ad-referred inbound message per conversation at the month's last second:
    every company then has referrals, so charges_sync probes for free entry point
    windows on every row, and no outbound message answers them (totals unchanged)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO messaging_message (direction, type, body, template_category,
                  template_params, wamid, provider_timestamp, status, error_title,
                  created_at, company_id, conversation_id, referral)
               SELECT 'in', 'text', '', '', '[]', 'bench.ref.' || c.id,
                      timestamptz '2026-10-31 23:59:59+00', 'received', '', now(),
                      c.company_id, c.id, '{"source_type": "ad", "ctwa_clid": "bench"}'
               FROM messaging_conversation c
               ON CONFLICT (wamid) DO NOTHING"""
        )
        cursor.execute("ANALYZE messaging_message")


def _compute(company) -> None:
    from billing.services import invoice_compute

    invoice_compute(company=company, month=MONTH)


def _sync(company) -> None:
    from billing.services import usage_sync

    usage_sync(company=company, full=True)


def _slice(args):
    url, company_ids, work = args
    _setup(url)
    from accounts.models import Company

    for company in Company.objects.filter(pk__in=company_ids):
        work(company)
    return len(company_ids)


def _every_company(url: str, workers: int, work) -> None:
    """``work(company)`` for every company, on ``workers`` processes (as Celery
    workers), each with its own connection."""
    from django.db import connections

    from accounts.models import Company

    ids = list(Company.objects.order_by("pk").values_list("pk", flat=True))
    connections.close_all()
    slices = [(url, ids[i::workers], work) for i in range(workers)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_slice, slices))


def month_so_far_sync(url: str, workers: int) -> None:
    """Every company's month so far synced once, as the webhooks keep it during
    the month in production (the generated rows bypass them): the month's
    charges exist, unbilled, before the run, as they do at a real month end."""
    _every_company(url, workers, _sync)


def billing_run(url: str, workers: int) -> None:
    _every_company(url, workers, _compute)


ORACLE = """
WITH delivered AS (
  SELECT m.company_id, m.template_category AS category, m.delivered_at, m.conversation_id, ct.wa_id
  FROM messaging_message m
  JOIN messaging_conversation cv ON cv.id = m.conversation_id
  JOIN messaging_contact ct ON ct.id = cv.contact_id
  WHERE m.direction = 'out' AND m.template_id IS NOT NULL
    AND m.delivered_at >= %(start)s AND m.delivered_at < %(end)s
), classified AS (
  SELECT d.company_id, d.category,
         COALESCE((SELECT p.market_id FROM billing_marketprefix p
                   WHERE p.prefix IN (substr(d.wa_id, 1, 1), substr(d.wa_id, 1, 2),
                                      substr(d.wa_id, 1, 3), substr(d.wa_id, 1, 4))
                   ORDER BY length(p.prefix) DESC LIMIT 1),
                  (SELECT id FROM billing_market WHERE name = 'Other')) AS market_id,
         d.category IN ('marketing', 'authentication') OR NOT EXISTS (
           SELECT 1 FROM messaging_message i
           WHERE i.conversation_id = d.conversation_id AND i.direction = 'in'
             AND i.provider_timestamp <= d.delivered_at
             AND i.provider_timestamp > d.delivered_at - %(window)s) AS billable
  FROM delivered d
), lines AS (
  SELECT c.company_id, round(count(*) * r.rate, 2) AS amount
  FROM classified c JOIN billing_rate r ON r.market_id = c.market_id AND r.category = c.category
  WHERE c.billable
  GROUP BY c.company_id, c.category, c.market_id, r.rate
), licenses AS (
  SELECT l.company_id, round(l.quantity * p.monthly_amount, 2) AS amount
  FROM licensing_licensecountchange l CROSS JOIN licensing_licenseprice p
)
SELECT company_id, sum(amount) FROM (
  SELECT * FROM lines UNION ALL SELECT * FROM licenses
) t GROUP BY company_id
"""


def oracle() -> dict[int, Decimal]:
    from django.db import connection

    from messaging.rules import CUSTOMER_SERVICE_WINDOW

    with connection.cursor() as cursor:
        # B1's window: the rule's own constant (messaging.rules), as an interval.
        cursor.execute(
            ORACLE, {"start": START, "end": END, "window": CUSTOMER_SERVICE_WINDOW}
        )
        return dict(cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument(
        "--workers", type=int, default=2, help="billing processes (2 cores)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the generated database"
    )
    parser.add_argument(
        "--referrals",
        action="store_true",
        help="add one ad-referred inbound message per conversation (F2), at the "
        "month's last second so totals stay the same: measures the entry point lookup",
    )
    parser.add_argument(
        "--month-so-far",
        action="store_true",
        help="sync every company's month so far before the run, as the webhooks "
        "keep it in production: the run then replaces the month's unbilled "
        "charges instead of writing them for the first time",
    )
    args = parser.parse_args()
    url = _bench_url()
    if not args.reuse:
        _recreate_database(url)
    _setup(url)
    from django.core.management import call_command
    from django.db import connection

    if not args.reuse:
        call_command("migrate", verbosity=0)
        print(
            f"Generating {args.companies:,} companies, {args.messages:,} messages ({MONTH:%B %Y})"
        )
        _timed("generate", generate, args.companies, args.messages)
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE billing_invoiceline, billing_charge, billing_invoice, "
                "billing_usagesnapshot, billing_usagechange CASCADE"
            )
    else:
        call_command("migrate", verbosity=0)  # the code may have new migrations
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE billing_invoiceline, billing_charge, billing_invoice, "
                "billing_usagesnapshot, billing_usagechange CASCADE"
            )
            cursor.execute("VACUUM ANALYZE")
    if args.referrals:
        _timed("ad-referred messages", referrals_add)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE template_id IS NOT NULL) FROM messaging_message"
        )
        total, templates = cursor.fetchone()
    print(f"messages {total:,}, templates {templates:,}")
    if args.month_so_far:
        _timed(
            "month so far synced (as during the month; not part of the run)",
            month_so_far_sync,
            url,
            args.workers,
        )
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE billing_charge")
    print(f"{'load average (1 min) before the run':<44} {os.getloadavg()[0]:10.2f}")
    _, run_s = _timed(
        f"billing run ({args.workers} workers, invoice_compute)",
        billing_run,
        url,
        args.workers,
    )
    connection.close()
    print(f"{'load average (1 min) after the run':<44} {os.getloadavg()[0]:10.2f}")
    expected, sql_s = _timed("hand-written SQL aggregate", oracle)
    print(
        f"{'load average (1 min) after the aggregate':<44} {os.getloadavg()[0]:10.2f}"
    )
    from billing.models import Charge, Invoice

    got = dict(Invoice.objects.filter(month=MONTH).values_list("company_id", "total"))
    mismatches = [pk for pk in expected if got.get(pk) != expected[pk]]
    print(f"{'charges written':<44} {Charge.objects.count():>12,}")
    print(f"{'ratio billing run / SQL aggregate':<44} {run_s / sql_s:10.2f}")
    print(f"{'µs per message (billing run)':<44} {run_s / total * 1e6:10.2f}")
    print(
        f"totals match: {not mismatches and len(got) == len(expected)} "
        f"({len(got)} invoices, grand total {sum(got.values())} EUR)"
    )
    if mismatches:
        print("mismatching companies:", mismatches[:10])
        sys.exit(1)


if __name__ == "__main__":
    main()
