"""Import rate of a people CSV against the database driver's own rate for the same resulting rows.

A CSV of `--rows` people (Chinese and English names, e-mail addresses, mobile numbers in the
formats people type, birthdays, tags, notes; a few rows bad or repeated, as in real files) is
written once. Then:

(a) it is imported through the import service (`start_import`, `set_mapping`, `run_import`,
    "good rows" mode): reading, validation, normalisation, duplicate checks inside the file and
    against the database, and the bulk write, into a freshly migrated, empty database;
(b) the rows (a) wrote (people, e-mails, phones, tags, lifecycle records, search keys, history)
    are inserted into another fresh database by the raw driver (`sqlite3` / `psycopg`), plain
    `INSERT ... VALUES` with `executemany`, one transaction per 2,000 people as (a) commits.

It prints rows/s of both and the ratio (a)/(b); the target is at least 1/3.

    python benchmarks/bench_import.py --db sqlite --rows 100000
    BENCH_DATABASE_URL=postgres://... python benchmarks/bench_import.py --db postgres
"""

import argparse
import csv
import gc
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common
from benchmarks.bench_demo_load import _raw_connection

TARGET_RATIO = 1 / 3
CHUNK_PEOPLE = 2000
HEADER = ["姓名", "Email", "手机", "生日", "标签", "备注"]


def write_csv(path: Path, rows: int, seed: int) -> int:
    """A realistic people file; returns the number of rows meant to be rejected or skipped."""
    from guanxi.customers.demo import CN_COMPOUND_SURNAMES, CN_GIVEN, CN_SURNAMES, WESTERN_FAMILY, WESTERN_GIVEN

    rng = random.Random(seed)
    domains = ("example.com", "example.net", "example.org", "qq.example", "163.example")
    tags = ("VIP", "展会线索", "Newsletter", "老客户", "转介绍", "")
    notes = ("", "", "展会认识", "Met at the trade show", "老客户介绍", "prefers WeChat")
    bad = 0
    prev_local, prev_domain = "", ""
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index in range(rows):
            if rng.random() < 0.6:
                family, family_py = rng.choice(CN_COMPOUND_SURNAMES) if rng.random() < 0.02 else rng.choice(CN_SURNAMES)
                given, given_py = rng.choice(CN_GIVEN)
                if rng.random() < 0.7:
                    second, second_py = rng.choice(CN_GIVEN)
                    given, given_py = given + second, given_py + second_py
                name = family + given
                local = f"{given_py}.{family_py}{index}"
            else:
                first, last = rng.choice(WESTERN_GIVEN), rng.choice(WESTERN_FAMILY)
                name = f"{first} {last}"
                local = f"{first.lower()}.{last.lower()}{index}"
            email = f"{local}@{rng.choice(domains)}"
            digits = f"13{rng.randrange(10)}{index:08d}"
            phone = rng.choice(
                (
                    digits,
                    f"{digits[:3]} {digits[3:7]} {digits[7:]}",
                    f"+86 {digits}",
                    f"{digits[:3]}-{digits[3:7]}-{digits[7:]}",
                )
            )
            birthday = ""
            if rng.random() < 0.5:
                year, month, day = rng.randrange(1950, 2005), rng.randrange(1, 13), rng.randrange(1, 29)
                birthday = rng.choice(
                    (f"{year}-{month:02d}-{day:02d}", f"{year}/{month}/{day}", f"{year}年{month}月{day}日")
                )
            roll = rng.random()
            if roll < 0.005:
                email, bad = email.replace("@", "@@"), bad + 1  # a typo: rejected
            elif roll < 0.01 and index:
                email, phone, bad = f"{prev_local}@{prev_domain}", "", bad + 1  # a repeated row: skipped
            prev_local, prev_domain = email.split("@", 1)
            writer.writerow([name, email, phone, birthday, rng.choice(tags), rng.choice(notes)])
    return bad


def _fresh_databases(db: str) -> tuple[str, str]:
    if db == "sqlite":
        folder = common.BENCH_DIR / "import"
        folder.mkdir(parents=True, exist_ok=True)
        paths = folder / "import.sqlite3", folder / "raw.sqlite3"
        for path in paths:
            common.remove_sqlite(path)
        return common.sqlite_url(paths[0]), common.sqlite_url(paths[1])
    common.pg_recreate("guanxi_bench_import")
    common.pg_recreate("guanxi_bench_import_raw")
    return common.pg_url("guanxi_bench_import"), common.pg_url("guanxi_bench_import_raw")


Written = list[tuple[Any, list[tuple[Any, ...]], int]]  # (Table, rows, index of the person id column)


def _written_rows(conn: Any, sqlite: bool) -> tuple[Written, int]:
    """(table, rows) of everything the import wrote, read back through the driver, in insert order."""
    from django.db import connections

    from guanxi.core.models import ChangeRecord
    from guanxi.customers.bulk import _HistoryTable
    from guanxi.customers.demo import Tables

    tables = Tables(connections["default"])
    history = _HistoryTable("default").table
    person_column = {
        tables.person: "id",
        tables.email: "person_id",
        tables.phone: "person_id",
        tables.person_tag: "person_id",
        tables.lifecycle: "person_id",
        tables.search_term: "person_id",
        history: "object_id",
    }
    out: Written = []
    for table, key in person_column.items():
        quote = connections["default"].ops.quote_name
        where = " WHERE person_id IS NOT NULL" if table in (tables.lifecycle, tables.search_term) else ""
        # Names come from the models, quoted by the backend.
        sql = f"SELECT {table.column_sql} FROM {table.quoted_name}{where} ORDER BY {quote(key)}"  # noqa: S608
        rows = [tuple(r) for r in conn.execute(sql).fetchall()]
        if not sqlite and table.model in (ChangeRecord, tables.person.model):
            from psycopg.types.json import Jsonb

            json_at = [i for i, c in enumerate(table.columns) if c in ("changes", "attributes")]
            rows = [tuple(Jsonb(v) if i in json_at else v for i, v in enumerate(r)) for r in rows]
        out.append((table, rows, table.columns.index(key)))
    return out, sum(len(rows) for _table, rows, _key in out)


def _raw_insert(conn: Any, sqlite: bool, tables: Written, person_ids: list[int]) -> None:
    """One transaction per CHUNK_PEOPLE people, each table's rows for them in one executemany."""
    placeholder = "?" if sqlite else "%s"
    bounds = [person_ids[i] for i in range(0, len(person_ids), CHUNK_PEOPLE)] + [person_ids[-1] + 1]
    positions = [0] * len(tables)
    for high in bounds[1:]:
        per_table = []
        for number, (table, rows, key_index) in enumerate(tables):
            start = positions[number]
            end = start
            while end < len(rows) and rows[end][key_index] < high:
                end += 1
            positions[number] = end
            per_table.append((table, rows[start:end]))
        if sqlite:
            conn.execute("BEGIN IMMEDIATE")
            for table, rows in per_table:
                if rows:
                    conn.executemany(table.sql(placeholder), rows)
            conn.execute("COMMIT")
        else:
            with conn.transaction(), conn.cursor() as cursor:
                for table, rows in per_table:
                    if rows:
                        cursor.executemany(table.sql(placeholder), rows)


def run(db: str, rows: int, seed: int) -> dict[str, Any]:
    import_url, raw_url = _fresh_databases(db)
    common.setup_django(import_url, {"raw": raw_url})
    from django.core.management import call_command
    from django.db import connections

    from guanxi.core.models import Tag
    from guanxi.customers.models import Person
    from guanxi.dataio.services import importing
    from guanxi.staff.models import StaffRole, User

    for alias in ("default", "raw"):
        call_command("migrate", database=alias, verbosity=0)
        User.objects.db_manager(alias).create_user("importer", password="bench-password", role=StaffRole.SALES_REP)
    user = User.objects.get(username="importer")
    csv_path = common.BENCH_DIR / f"import-{rows}.csv"
    started = time.perf_counter()
    expected_bad = write_csv(csv_path, rows, seed)
    generate_s = time.perf_counter() - started

    gc.collect()
    started = time.perf_counter()
    with csv_path.open("rb") as upload:
        job = importing.start_import(user, upload, csv_path.name, "person")
    upload_s = time.perf_counter() - started
    job = importing.set_mapping(user, job, job.mapping, "good_rows", "skip")
    started = time.perf_counter()
    job = importing.run_import(job.pk, dry_run=False)
    import_s = time.perf_counter() - started
    assert job.status == "done", job.error
    assert job.created_count + job.skipped_count + job.rejected_count == rows
    assert job.skipped_count + job.rejected_count == expected_bad, (job.skipped_count, job.rejected_count)

    sqlite = db == "sqlite"
    source, _placeholder = _raw_connection("default")
    tables, total_rows = _written_rows(source, sqlite)
    source.close()
    Tag.objects.using("raw").bulk_create(
        [Tag(pk=t.pk, name=t.name, color=t.color) for t in Tag.objects.using("default").all()]
    )
    person_ids = sorted(Person.objects.values_list("pk", flat=True))
    connections.close_all()
    raw, _placeholder = _raw_connection("raw")
    gc.collect()
    started = time.perf_counter()
    _raw_insert(raw, sqlite, tables, person_ids)
    raw_s = time.perf_counter() - started
    raw.close()
    assert Person.objects.using("raw").count() == len(person_ids) == job.created_count
    connections.close_all()
    return {
        "db": db,
        "csv_rows": rows,
        "created": job.created_count,
        "skipped": job.skipped_count,
        "rejected": job.rejected_count,
        "db_rows": total_rows,
        "generate_s": generate_s,
        "upload_s": upload_s,
        "import_s": import_s,
        "raw_s": raw_s,
        "import_rate": total_rows / import_s,
        "raw_rate": total_rows / raw_s,
        "ratio": raw_s / import_s,
        "with_upload_ratio": raw_s / (import_s + upload_s),
    }


def report(result: dict[str, Any]) -> str:
    r = result
    return "\n".join(
        [
            f"people CSV import on {r['db']}: {r['csv_rows']:,} CSV rows -> {r['created']:,} created, "
            f"{r['skipped']:,} skipped, {r['rejected']:,} rejected; {r['db_rows']:,} database rows "
            f"({common.machine()})",
            f"  write the CSV                 {r['generate_s']:8.1f} s",
            f"  upload (store, detect, count) {r['upload_s']:8.1f} s",
            f"  (a) run_import                {r['import_s']:8.1f} s  {r['import_rate']:>10,.0f} rows/s  "
            f"{r['csv_rows'] / r['import_s']:>8,.0f} CSV rows/s",
            f"  (b) raw driver executemany    {r['raw_s']:8.1f} s  {r['raw_rate']:>10,.0f} rows/s",
            f"  ratio (a)/(b)                 {r['ratio']:8.2f}   (target >= {TARGET_RATIO:.2f}); "
            f"with the upload step {r['with_upload_ratio']:.2f}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    result = run(args.db, args.rows, args.seed)
    print(report(result), flush=True)
    return 0 if result["ratio"] >= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
