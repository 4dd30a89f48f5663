"""`make bench`: every benchmark on SQLite and on PostgreSQL ($BENCH_DATABASE_URL), one process each.

Demo load and list latency (issue 3), import rate and duplicate search (issue 4), then the shop
feed, board and forecast, lead rescoring, pool reclaim (issue 5), tracking ingestion (issue 6)
and next offers (issue 7) per database; RFM over 10M orders on PostgreSQL; then the analytics
engine (no database).

Each benchmark runs in its own process because Django is configured once per process for one
database. The large data set for the latency benchmark is generated on first use and then reused.

    BENCH_DATABASE_URL=postgres://guanxi:guanxi@127.0.0.1:5432/guanxi python benchmarks/run_all.py
    python benchmarks/run_all.py --db sqlite --load-people 20000 --requests 20
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(script: str, *args: str) -> int:
    command = [sys.executable, str(HERE / script), *args]
    print(f"\n$ {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    code = subprocess.call(command, env=os.environ.copy())  # noqa: S603  -- our own scripts
    print(f"({time.perf_counter() - started:.0f} s, exit {code})", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"], help="default: both")
    parser.add_argument("--load-people", default="50000", help="people for the load benchmark")
    parser.add_argument("--requests", default="50", help="timed requests per latency row")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--import-rows", default="100000", help="rows of the import benchmark's CSV")
    parser.add_argument("--duplicate-people", default="100000", help="people for the duplicate search")
    parser.add_argument("--skip-engine", action="store_true", help="skip the analytics engine benchmarks")
    parser.add_argument("--only-issue", type=int, choices=[3, 4, 5, 6, 7], help="run one issue's benchmarks")
    args = parser.parse_args(argv)
    databases = args.db or ["sqlite", "postgres"]
    if "postgres" in databases and not os.environ.get("BENCH_DATABASE_URL"):
        print("BENCH_DATABASE_URL is not set; using the local default (see benchmarks/common.py)")
    failures = 0

    def wanted(issue: int) -> bool:
        return args.only_issue in (None, issue)

    for db in databases:
        if wanted(3):
            failures += _run("bench_demo_load.py", "--db", db, "--people", args.load_people) != 0
            if not args.skip_latency:
                failures += _run("bench_list_latency.py", "--db", db, "--requests", args.requests) != 0
        if wanted(4):
            failures += _run("bench_import.py", "--db", db, "--rows", args.import_rows) != 0
            failures += _run("bench_duplicates.py", "--db", db, "--people", args.duplicate_people) != 0
        if wanted(5):
            failures += _run("bench_orders_bulk.py", "--db", db) != 0
            failures += _run("bench_sales_board.py", "--db", db) != 0
            failures += _run("bench_leads_rescore.py", "--db", db) != 0
            failures += _run("bench_pool_reclaim.py", "--db", db) != 0
            failures += _run("bench_import_orders.py", "--db", db) != 0
        if wanted(6):
            failures += _run("bench_tracking_ingest.py", "--db", db) != 0
            failures += _run("bench_tracking_processing.py", "--db", db) != 0
        if wanted(7):
            failures += _run("bench_analytics_offers.py", "--db", db) != 0
            failures += _run("bench_profitability.py", "--db", db) != 0
    if wanted(7) and "postgres" in databases:
        failures += _run("bench_analytics_rfm.py") != 0
    if wanted(7) and not args.skip_engine:
        # Pure NumPy, no database; the reference libraries run in their own venv (see the scripts).
        failures += _run("bench_engine_clv.py") != 0
        failures += _run("bench_engine_rules.py") != 0
        failures += _run("bench_engine_scores.py") != 0
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
