"""RFM + lifecycle over 10,000,000 order rows on PostgreSQL, summaries computed in the database.

Generates (once; reused while the row count matches) a table `bench_orders(customer, ordered_at,
amount)` in the database `guanxi_bench_rfm` with `generate_series`: `--rows` orders over
`--customers` customers across three years. Then, timed:

1. the engine's Ibis expressions (`customer_summaries` + `rfm_scores`) compiled to PostgreSQL
   SQL and run there; one row per customer fetched (psycopg);
2. the rows turned into arrays (`summaries_from_rows`), as the scoring run does;
3. lifecycle stages from the default rules (`assign_stages`, NumPy masks).

Baseline in the same process: one `SELECT count(*), sum(amount)` over the same table, i.e. the
cost of reading every order once; the ratio says how many full scans the whole step costs.
Target: under 10 s for 10,000,000 rows.

    BENCH_DATABASE_URL=postgres://guanxi:guanxi@127.0.0.1:5432/guanxi python benchmarks/bench_analytics_rfm.py
"""

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common

TARGET_S = 10.0
DB = "guanxi_bench_rfm"


def _prepare(con: object, rows: int, customers: int) -> None:
    import psycopg

    assert isinstance(con, psycopg.Connection)
    with con.cursor() as cur:
        cur.execute("SELECT to_regclass('bench_orders') IS NOT NULL")
        exists = bool(cur.fetchone()[0])  # type: ignore[index]  # one row always
        if exists:
            cur.execute("SELECT count(*) FROM bench_orders")
            if cur.fetchone()[0] == rows:  # type: ignore[index]  # one row always
                return
            cur.execute("DROP TABLE bench_orders")
        print(f"  generating {rows:,} orders for {customers:,} customers ...", flush=True)
        started = time.perf_counter()
        cur.execute(
            "CREATE UNLOGGED TABLE bench_orders (customer text, ordered_at timestamptz, amount double precision)"
        )
        # Customers drawn skewed (a few buy a lot), dates over three years, amounts 10..510.
        cur.execute(
            """
            INSERT INTO bench_orders
            SELECT 'p' || ((power(random(), 2) * %(customers)s)::bigint),
                   timestamptz '2023-07-01 00:00:00+00' + random() * interval '1095 days',
                   round((10 + random() * 500)::numeric, 2)::double precision
            FROM generate_series(1, %(rows)s)
            """,
            {"customers": customers, "rows": rows},
        )
        cur.execute("ANALYZE bench_orders")
        con.commit()
        print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    common.pg_create_if_missing(DB)
    url = common.pg_url(DB)
    common.setup_django(url)

    import ibis  # type: ignore[import-untyped]  # ibis ships no py.typed marker
    import numpy as np
    import psycopg

    from guanxi.analytics.lifecycle import DEFAULT_RULES, assign_stages
    from guanxi.engine import summaries

    con = psycopg.connect(url.replace("postgres://", "postgresql://", 1))
    _prepare(con, args.rows, args.customers)
    end = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    expr = summaries.rfm_scores(summaries.customer_summaries(summaries.orders_table("bench_orders"), end=end))
    columns = (*summaries.SUMMARY_COLUMNS, "recency_score", "frequency_score", "monetary_score", "segment")
    sql = str(ibis.to_sql(expr.select(*columns), dialect="postgres"))

    with con.cursor() as cur:
        cur.execute("SET work_mem = '256MB'")
        started = time.perf_counter()
        cur.execute("SELECT count(*), sum(amount) FROM bench_orders")
        cur.fetchall()
        baseline = time.perf_counter() - started

        started = time.perf_counter()
        cur.execute(sql)
        rows = cur.fetchall()
        t_sql = time.perf_counter() - started
    con.close()

    started = time.perf_counter()
    base = len(summaries.SUMMARY_COLUMNS)
    s = summaries.summaries_from_rows(row[:base] for row in rows)
    segment = [row[base + 3] for row in sorted(rows, key=lambda row: str(row[0]))]
    t_arrays = time.perf_counter() - started

    started = time.perf_counter()
    stages = assign_stages(
        DEFAULT_RULES,
        order_count=s.order_count,
        days_since_last=s.days_since_last,
        p_alive=np.full(len(s), np.nan),
        segment=segment,
        current=["prospect"] * len(s),
    )
    t_stages = time.perf_counter() - started
    total = t_sql + t_arrays + t_stages
    print(common.machine())
    print(f"orders: {args.rows:,}, customers with orders: {len(s):,}")
    print(f"baseline full scan (count, sum)        {baseline:6.2f} s")
    print(f"summaries + RFM in PostgreSQL + fetch  {t_sql:6.2f} s")
    print(f"rows to arrays                         {t_arrays:6.2f} s")
    print(f"lifecycle stages (default rules)       {t_stages:6.2f} s")
    print(f"total                                  {total:6.2f} s  ({total / baseline:.1f}x the full scan)")
    counts = {stage: stages.count(stage) for stage in sorted(set(stages))}
    print(f"stages: {counts}")
    print(f"target < {TARGET_S:.0f} s: {'PASS' if total < TARGET_S else 'FAIL'}")


if __name__ == "__main__":
    main()
