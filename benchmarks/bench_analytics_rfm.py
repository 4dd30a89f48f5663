"""RFM + lifecycle over 10,000,000 order rows on PostgreSQL, as a scoring run does it.

Generates once (reused while the counts match) `--customers` people and `--rows` orders in the
app's own tables (`customers_person`, `commerce_order`) of a migrated database
`guanxi_bench_rfm_app`, with `generate_series`: customers drawn skewed (a few buy a lot), dates
over three years (each order created and last changed when it was placed), amounts 10..510. Then:

1. **rebuild** (timed, reported): `purchase_store.refresh(rebuild=True)`, the stored purchase
   periods computed from every order — what the first run and the weekly rebuild cost;
2. the shop moves on (not timed): `--new` new orders (1 % by default, about a tenth of them
   back-dated before their buyer's last purchase day) and `--changed` old orders cancelled;
3. **RFM + lifecycle** (timed, the target): what a scoring run does before fitting models —
   refresh the store from what changed (fold new orders, recompute the back-dated and the
   changed customers), read it whole into arrays, read every customer's current stage, RFM
   scores and segments (NumPy quintiles), lifecycle stages from the default rules;
4. the same run again at once (timed, reported): the cost of a run when nothing changed;
5. a check that the refreshed store equals the periods computed from the orders (not timed).

Baseline in the same process: one `SELECT count(*), sum(total_amount)` over the orders, the cost
of reading every order once. Target: step 3 under 10 s.

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
DB = "guanxi_bench_rfm_app"
END = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)


def _count(cur: object, sql: str) -> int:
    cur.execute(sql)  # type: ignore[attr-defined]  # a psycopg cursor
    return int(cur.fetchone()[0])  # type: ignore[attr-defined]  # one row always


def _prepare(con: object, rows: int, customers: int) -> None:
    """People and orders in the app's tables; orders added by an earlier run are removed."""
    from psycopg import sql

    cur = con.cursor()  # type: ignore[attr-defined]  # a psycopg connection
    cur.execute("DELETE FROM commerce_order WHERE number NOT LIKE 'B%%'")
    cur.execute("UPDATE commerce_order SET status = 'confirmed' WHERE status = 'cancelled'")
    con.commit()  # type: ignore[attr-defined]
    if _count(cur, "SELECT count(*) FROM customers_person") != customers:
        print(f"  generating {customers:,} people ...", flush=True)
        cur.execute("TRUNCATE customers_person CASCADE")
        cur.execute(
            """
            INSERT INTO customers_person (id, source, lifecycle_stage, attributes, notes, created_at, updated_at,
                family_name, given_name, full_name, preferred_language, preferred_channel, preferences,
                buying_motives, grade, lost_reason, reclaim_exempt, rfm_score, rfm_segment, service_level)
            SELECT g, 'import', 'prospect', '{}', '', now(), now(), 'Bench', g::text, 'Bench ' || g, '', '',
                   '', '', '', '', false, '', '', 'standard'
            FROM generate_series(1, %(customers)s) AS g
            """,
            {"customers": customers},
        )
        cur.execute("SELECT setval(pg_get_serial_sequence('customers_person', 'id'), %s)", [customers])
        con.commit()  # type: ignore[attr-defined]
    if _count(cur, "SELECT count(*) FROM commerce_order") != rows:
        print(f"  generating {rows:,} orders ...", flush=True)
        started = time.perf_counter()
        cur.execute("TRUNCATE commerce_order CASCADE")
        # Ten million rows load far faster into a table without its indexes, built afterwards.
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'commerce_order' AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = 'commerce_order'::regclass)"
        )
        indexes = cur.fetchall()
        for name, _definition in indexes:
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        cur.execute(
            """
            INSERT INTO commerce_order (id, number, channel, status, currency, ordered_at, subtotal_amount,
                discount_amount, tax_amount, total_amount, paid_amount, note, created_at, updated_at,
                buyer_person_id)
            SELECT g, 'B' || g, 'web', 'confirmed', 'CNY', at, a, 0, 0, a, a, '', at, at,
                   1 + (power(random(), 2) * (%(customers)s - 1))::bigint
            FROM (SELECT g, round((10 + random() * 500)::numeric, 2) AS a,
                         timestamptz '2023-07-01 00:00:00+00' + random() * interval '1095 days' AS at
                  FROM generate_series(1, %(rows)s) AS g) AS o
            """,
            {"customers": customers, "rows": rows},
        )
        con.commit()  # type: ignore[attr-defined]  # the deferred foreign-key checks run here
        for _name, definition in indexes:
            cur.execute(definition)  # the definitions PostgreSQL itself printed a moment ago
        cur.execute("SELECT setval(pg_get_serial_sequence('commerce_order', 'id'), %s)", [rows])
        con.commit()  # type: ignore[attr-defined]
        print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    con.commit()  # type: ignore[attr-defined]
    # What autovacuum does on a live table: statistics, and a visibility map current enough
    # for index-only reads of the buyer indexes.
    con.autocommit = True  # type: ignore[attr-defined]  # VACUUM runs outside a transaction
    cur.execute("VACUUM (ANALYZE) commerce_order")
    cur.execute("VACUUM (ANALYZE) customers_person")
    con.autocommit = False  # type: ignore[attr-defined]


def _move_on(con: object, new: int, changed: int) -> None:
    """New orders (a tenth back-dated by up to a year) and cancelled old ones, stamped now."""
    cur = con.cursor()  # type: ignore[attr-defined]
    cur.execute(
        """
        INSERT INTO commerce_order (number, channel, status, currency, ordered_at, subtotal_amount,
            discount_amount, tax_amount, total_amount, paid_amount, note, created_at, updated_at, buyer_person_id)
        SELECT 'N' || g, 'web', 'confirmed', 'CNY',
               CASE WHEN g %% 10 = 0 THEN timestamptz '2026-06-30 00:00:00+00' - random() * interval '365 days'
                    ELSE timestamptz '2026-06-25 00:00:00+00' + random() * interval '5 days' END,
               a, 0, 0, a, a, '', now(), now(),
               1 + (power(random(), 2) * ((SELECT count(*) FROM customers_person) - 1))::bigint
        FROM (SELECT g, round((10 + random() * 500)::numeric, 2) AS a FROM generate_series(1, %(new)s) AS g) AS o
        """,
        {"new": new},
    )
    cur.execute(
        "UPDATE commerce_order SET status = 'cancelled', updated_at = now() "
        "WHERE id IN (SELECT (1 + random() * 9999999)::bigint FROM generate_series(1, %s))",
        [changed],
    )
    con.commit()  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=100_000)
    parser.add_argument("--changed", type=int, default=10_000)
    args = parser.parse_args()
    common.pg_create_if_missing(DB)
    url = common.pg_url(DB)
    common.setup_django(url)

    import psycopg
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from guanxi.analytics import purchase_store, services
    from guanxi.analytics.lifecycle import DEFAULT_RULES, assign_stages
    from guanxi.commerce import purchase_history
    from guanxi.engine import rfm, summaries

    con = psycopg.connect(url.replace("postgres://", "postgresql://", 1))
    _prepare(con, args.rows, args.customers)

    with con.cursor() as cur:
        started = time.perf_counter()
        cur.execute("SELECT count(*), sum(total_amount) FROM commerce_order")
        cur.fetchall()
        baseline = time.perf_counter() - started

    started = time.perf_counter()
    rebuilt = purchase_store.refresh(rebuild=True, now=END)
    t_rebuild = time.perf_counter() - started
    connection.close()

    _move_on(con, args.new, args.changed)
    con.close()

    import numpy as np

    quality: dict[str, object] = {}
    started = time.perf_counter()
    s, current = services._summaries(END, stored=True, quality=quality)
    t_summaries = time.perf_counter() - started
    started = time.perf_counter()
    scored = rfm.rfm(s.days_since_last, s.order_count, s.revenue)
    segments = scored.segment_keys()
    t_rfm = time.perf_counter() - started
    started = time.perf_counter()
    stages = assign_stages(
        DEFAULT_RULES,
        order_count=s.order_count,
        days_since_last=s.days_since_last,
        p_alive=np.full(len(s), np.nan),
        segment=segments,
        current=current,
    )
    t_stages = time.perf_counter() - started
    total = t_summaries + t_rfm + t_stages

    # The same run again at once: nothing changed, so the refresh finds nothing to do.
    started = time.perf_counter()
    again, current_again = services._summaries(END, stored=True, quality={})
    assign_stages(
        DEFAULT_RULES,
        order_count=again.order_count,
        days_since_last=again.days_since_last,
        p_alive=np.full(len(again), np.nan),
        segment=rfm.rfm(again.days_since_last, again.order_count, again.revenue).segment_keys(),
        current=current_again,
    )
    t_current = time.perf_counter() - started

    expr = summaries.purchase_periods(purchase_history.purchases_table(), end=END)
    expected = summaries.summaries_from_rows(
        purchase_history.run(summaries.summaries_at(expr, end=END).select(*summaries.SUMMARY_COLUMNS))
    )
    same = expected.customer == s.customer and all(
        np.allclose(getattr(expected, name), getattr(s, name)) for name in summaries.SUMMARY_COLUMNS[1:]
    )
    report = quality["summaries"]
    assert isinstance(report, dict)

    print(common.machine())
    print(f"orders: {args.rows + args.new:,}, customers with orders: {len(s):,}")
    print(f"baseline full scan (count, sum)              {baseline:6.2f} s")
    print(f"rebuild of the stored periods (every order)  {t_rebuild:6.2f} s  ({rebuilt.recomputed:,} customers)")
    print(
        f"then {report['new_orders']:,} new orders, {args.changed:,} old orders cancelled: "
        f"{report['folded']:,} customers folded, {report['recomputed']:,} recomputed"
    )
    print(f"refresh + read store + current stages        {t_summaries:6.2f} s")
    print(f"RFM scores and segments (NumPy)              {t_rfm:6.2f} s")
    print(f"lifecycle stages (default rules)             {t_stages:6.2f} s")
    print(f"RFM + lifecycle                              {total:6.2f} s  ({total / baseline:.1f}x the full scan)")
    print(f"the same run again, store already current   {t_current:6.2f} s")
    print(f"store equals the periods from every order: {'yes' if same else 'NO'}")
    counts = {stage: stages.count(stage) for stage in sorted(set(stages))}
    print(f"stages: {counts}")
    print(f"target < {TARGET_S:.0f} s: {'PASS' if total < TARGET_S and same else 'FAIL'}")


if __name__ == "__main__":
    main()
