"""Demo-data load rate against the database driver's own rate for the same rows.

The same rows (generated once, up front) are inserted into two identical, freshly migrated,
empty databases:

(a) by the demo generator's write path (`guanxi.customers.demo.write_chunk`: Django's cursor,
    `executemany`, one transaction per chunk), and
(b) by the raw driver (`sqlite3` / `psycopg`), plain `INSERT ... VALUES` with `executemany`, one
    transaction per chunk, the same connection settings (WAL, synchronous=NORMAL, foreign keys).

It prints rows/s of both and their ratio; also the end-to-end rate of the command (generating the
rows in Python + inserting + resetting sequences and ANALYZE) against the raw insert rate.

    python benchmarks/bench_demo_load.py --db sqlite --people 50000
    BENCH_DATABASE_URL=postgres://... python benchmarks/bench_demo_load.py --db postgres
"""

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common


def _raw_connection(alias: str) -> tuple[Any, str]:
    """A plain driver connection to the database behind `alias`, and its placeholder style."""
    from django.conf import settings

    config = settings.DATABASES[alias]
    if config["ENGINE"].endswith("sqlite3"):
        import sqlite3

        lite = sqlite3.connect(config["NAME"], isolation_level=None)
        lite.execute("PRAGMA journal_mode=WAL")
        lite.execute("PRAGMA synchronous=NORMAL")
        lite.execute("PRAGMA foreign_keys=ON")
        return lite, "?"
    import psycopg

    conn = psycopg.connect(
        host=config["HOST"],
        port=config["PORT"] or 5432,
        user=config["USER"],
        password=config["PASSWORD"],
        dbname=config["NAME"],
    )
    return conn, "%s"


def _raw_insert(conn: Any, placeholder: str, chunks: list[Any]) -> int:
    rows = 0
    sqlite = placeholder == "?"
    for chunk in chunks:
        if sqlite:
            conn.execute("BEGIN IMMEDIATE")
            for table, table_rows in chunk.tables:
                if table_rows:
                    conn.executemany(table.sql(placeholder), table_rows)
            conn.execute("COMMIT")
        else:
            with conn.transaction(), conn.cursor() as cursor:
                for table, table_rows in chunk.tables:
                    if table_rows:
                        cursor.executemany(table.sql(placeholder), table_rows)
        rows += chunk.rows
    return rows


def _fresh_databases(db: str) -> tuple[str, str]:
    """Empty demo and raw databases; returns their URLs."""
    if db == "sqlite":
        folder = common.BENCH_DIR / "load"
        folder.mkdir(parents=True, exist_ok=True)
        demo_path, raw_path = folder / "demo.sqlite3", folder / "raw.sqlite3"
        common.remove_sqlite(demo_path)
        common.remove_sqlite(raw_path)
        return common.sqlite_url(demo_path), common.sqlite_url(raw_path)
    common.pg_recreate("guanxi_bench_load_demo")
    common.pg_recreate("guanxi_bench_load_raw")
    return common.pg_url("guanxi_bench_load_demo"), common.pg_url("guanxi_bench_load_raw")


def run(db: str, accounts: int, people: int, seed: int, repeat: int = 2) -> dict[str, Any]:
    """Best of `repeat` rounds; rounds alternate which path goes first, each into fresh databases."""
    demo_url, raw_url = _fresh_databases(db)
    common.setup_django(demo_url, {"raw": raw_url})

    from django.core.management import call_command
    from django.db import connections

    from guanxi.customers.demo import SIZES, DemoGenerator, Reference, ensure_reference_data, finish_load, write_chunk
    from guanxi.customers.models import Person, SearchTerm

    def prepare() -> Reference:
        for alias in ("default", "raw"):
            call_command("migrate", database=alias, verbosity=0)
        reference = ensure_reference_data(SIZES["large"], "bench-password", "default")
        raw_reference = ensure_reference_data(SIZES["large"], "bench-password", "raw")
        assert (reference.owners, reference.tag_ids) == (raw_reference.owners, raw_reference.tag_ids)
        return reference

    reference = prepare()
    gc.collect()
    started = time.perf_counter()
    generator = DemoGenerator(connections["default"], reference, accounts=accounts, people=people, seed=seed)
    chunks = list(generator.chunks())
    generate_s = time.perf_counter() - started
    total_rows = sum(c.rows for c in chunks)
    gc.freeze()  # millions of row tuples: keep the collector from walking them during the timed inserts

    def demo_path() -> tuple[float, float]:
        started = time.perf_counter()
        for chunk in chunks:
            write_chunk(chunk, "default")
        demo_s = time.perf_counter() - started
        started = time.perf_counter()
        finish_load("default")
        return demo_s, time.perf_counter() - started

    def raw_path() -> float:
        conn, placeholder = _raw_connection("raw")
        started = time.perf_counter()
        raw_rows = _raw_insert(conn, placeholder, chunks)
        raw_s = time.perf_counter() - started
        conn.close()
        assert raw_rows == total_rows
        return raw_s

    demo_times: list[float] = []
    finish_times: list[float] = []
    raw_times: list[float] = []
    for round_number in range(repeat):
        if round_number:
            connections.close_all()
            _fresh_databases(db)
            prepare()
        if round_number % 2:
            raw_times.append(raw_path())
            demo_s, finish_s = demo_path()
        else:
            demo_s, finish_s = demo_path()
            raw_times.append(raw_path())
        demo_times.append(demo_s)
        finish_times.append(finish_s)
        assert Person.objects.using("default").count() == Person.objects.using("raw").count() == people
        assert SearchTerm.objects.using("default").count() == SearchTerm.objects.using("raw").count()
    connections.close_all()
    demo_s, finish_s, raw_s = min(demo_times), min(finish_times), min(raw_times)

    raw_rate = total_rows / raw_s
    demo_rate = total_rows / demo_s
    command_s = generate_s + demo_s + finish_s
    return {
        "db": db,
        "accounts": accounts,
        "people": people,
        "rows": total_rows,
        "generate_s": generate_s,
        "demo_insert_s": demo_s,
        "finish_s": finish_s,
        "raw_insert_s": raw_s,
        "all_demo_s": demo_times,
        "all_raw_s": raw_times,
        "demo_rate": demo_rate,
        "raw_rate": raw_rate,
        "insert_ratio": demo_rate / raw_rate,
        "command_rate": total_rows / command_s,
        "command_ratio": (total_rows / command_s) / raw_rate,
    }


def report(result: dict[str, Any]) -> str:
    r = result
    return "\n".join(
        [
            f"demo-data load on {r['db']}: {r['accounts']:,} accounts, {r['people']:,} people, {r['rows']:,} rows "
            f"({common.machine()})",
            f"  generate rows in Python      {r['generate_s']:8.1f} s  {r['rows'] / r['generate_s']:>10,.0f} rows/s",
            f"  (a) demo write path          {r['demo_insert_s']:8.1f} s  {r['demo_rate']:>10,.0f} rows/s",
            f"  (b) raw driver executemany   {r['raw_insert_s']:8.1f} s  {r['raw_rate']:>10,.0f} rows/s",
            f"  sequences + ANALYZE          {r['finish_s']:8.1f} s",
            f"  ratio (a)/(b)                {r['insert_ratio']:8.2f}   (target >= 0.50; best of "
            f"{len(r['all_demo_s'])}: (a) {', '.join(f'{t:.1f}' for t in r['all_demo_s'])} s, "
            f"(b) {', '.join(f'{t:.1f}' for t in r['all_raw_s'])} s)",
            f"  whole command (generate + write + finish): {r['command_rate']:,.0f} rows/s, "
            f"ratio to raw {r['command_ratio']:.2f}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--accounts", type=int, help="default: people / 10")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2, help="rounds, alternating which path goes first")
    args = parser.parse_args(argv)
    accounts = args.accounts if args.accounts is not None else max(1, args.people // 10)
    result = run(args.db, accounts, args.people, args.seed, repeat=args.repeat)
    print(report(result), flush=True)
    return 0 if result["insert_ratio"] >= 0.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
