"""Import rate of an orders CSV against the database driver's own rate for the same resulting rows.

A CSV of `--rows` order lines (one to five lines per order, buyers by e-mail, a line user on some
lines, SKUs, quantities, prices, a paid amount on half the orders, Chinese headers; about 1% of
lines name an unknown SKU, which rejects their whole order) is written once. Both databases get
the same staff user, products and buyers first. Then:

(a) the file is imported through the import service (`start_import`, `set_mapping`,
    `run_import`, "good rows" mode): reading, grouping rows into orders, validation, buyer and
    SKU look-ups, `commerce.services.bulk_create_orders` (numbers, prices, totals, visibility,
    history, the buyer's last won deal, and the payments, one `bulk_create` per batch);
(b) the rows (a) wrote (orders, order lines, payments, their history records) are inserted into
    the other database by the raw driver (`sqlite3` / `psycopg`), plain `INSERT ... VALUES` with
    `executemany`, one transaction per 2,000 lines' worth of orders, as (a) commits.

It prints rows/s of both and the ratio (b)/(a) in time, i.e. (a)'s share of the raw rate.

    python benchmarks/bench_import_orders.py --db sqlite --rows 20000
    BENCH_DATABASE_URL=postgres://... python benchmarks/bench_import_orders.py --db postgres
"""

import argparse
import csv
import gc
import itertools
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common
from benchmarks.bench_demo_load import _raw_connection

LINES_PER_TRANSACTION = 2000
PRODUCTS = 300
BUYERS = 3000
HEADER = ["订单号", "下单时间", "买家邮箱", "商品编码", "数量", "单价", "使用人", "实付金额", "支付方式", "渠道"]


def write_csv(path: Path, rows: int, seed: int) -> tuple[int, int]:
    """A realistic shop export; returns (orders, lines meant to be rejected)."""
    rng = random.Random(seed)
    orders = bad = 0
    written = 0
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        while written < rows:
            orders += 1
            size = min(rng.randint(1, 5), rows - written)
            day = (
                f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(8, 21)}:{rng.randint(0, 59):02d}"
            )
            buyer = f"buyer{rng.randrange(BUYERS)}@example.com"
            lines: list[tuple[str, int, int, str]] = []
            for _ in range(size):
                sku = f"SKU-{rng.randrange(PRODUCTS):04d}"
                quantity = rng.randint(1, 4)
                price = rng.choice((19, 49, 88, 128, 299))
                user = f"buyer{rng.randrange(BUYERS)}@example.com" if rng.random() < 0.1 else ""
                lines.append((sku, quantity, price, user))
            if rng.random() < 0.01:
                lines[0], bad = ("NO-SUCH-SKU", *lines[0][1:]), bad + size
            total = sum(q * p for _s, q, p, _u in lines)
            paid = str(total) if rng.random() < 0.5 else ""
            method = rng.choice(("支付宝", "微信支付", "银行转账")) if paid else ""
            channel = rng.choice(("网店", "直销", "经销商"))
            for sku, quantity, price, user in lines:
                writer.writerow(
                    [f"T{orders:07d}", day, buyer, sku, quantity, f"{price}.00", user, paid, method, channel]
                )
            written += size
    return orders, bad


def _fresh_databases(db: str) -> tuple[str, str]:
    if db == "sqlite":
        folder = common.BENCH_DIR / "import_orders"
        folder.mkdir(parents=True, exist_ok=True)
        paths = folder / "import.sqlite3", folder / "raw.sqlite3"
        for path in paths:
            common.remove_sqlite(path)
        return common.sqlite_url(paths[0]), common.sqlite_url(paths[1])
    common.pg_recreate("guanxi_bench_import_orders")
    common.pg_recreate("guanxi_bench_import_orders_raw")
    return common.pg_url("guanxi_bench_import_orders"), common.pg_url("guanxi_bench_import_orders_raw")


def _setup(alias: str) -> None:
    """The same user, products and buyers (same ids) in each database."""
    from decimal import Decimal

    from django.db import transaction

    from guanxi.commerce.models import Product
    from guanxi.customers import bulk
    from guanxi.staff.models import StaffRole, User

    user = User.objects.db_manager(alias).create_user("importer", password="bench-password", role=StaffRole.SALES_REP)
    Product.objects.using(alias).bulk_create(
        [
            Product(sku=f"SKU-{n:04d}", name=f"Product {n}", unit_price=Decimal(88), currency="CNY")
            for n in range(PRODUCTS)
        ]
    )
    people = [
        bulk.NewPerson(
            family_name="Buyer",
            given_name=str(n),
            full_name=f"Buyer {n}",
            owner=user,
            emails=[(f"buyer{n}@example.com", "personal")],
        )
        for n in range(BUYERS)
    ]
    with transaction.atomic(using=alias):
        bulk.create_people(user, people, using=alias)


def _written(
    conn: Any, sqlite: bool, floors: dict[str, int], order_type: int
) -> dict[str, tuple[list[str], list[Any]]]:
    """(columns, rows) of every table the import wrote, read back through the driver."""
    out: dict[str, tuple[list[str], list[Any]]] = {}
    for table in ("commerce_order", "commerce_orderline", "commerce_payment", "core_changerecord"):
        where = "id > %s" % floors[table]  # noqa: UP031  # an integer we read ourselves
        if table == "core_changerecord":
            where += f" AND content_type_id = {order_type}"
        cursor = conn.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY id")  # noqa: S608  # fixed names
        columns = [d[0] for d in cursor.description]
        rows = [tuple(r) for r in cursor.fetchall()]
        if not sqlite:
            from psycopg.types.json import Jsonb

            rows = [tuple(Jsonb(v) if isinstance(v, dict | list) else v for v in r) for r in rows]
        out[table] = (columns, rows)
    return out


def _raw_insert(conn: Any, sqlite: bool, written: dict[str, tuple[list[str], list[Any]]], lines: int) -> None:
    """One transaction per LINES_PER_TRANSACTION lines' worth of orders; each table one executemany."""
    placeholder = "?" if sqlite else "%s"
    order_cols, orders = written["commerce_order"]
    per_chunk = max(1, round(len(orders) * LINES_PER_TRANSACTION / max(lines, 1)))
    bounds = [orders[i][0] for i in range(0, len(orders), per_chunk)] + [orders[-1][0] + 1]
    keys = {"commerce_order": "id", "commerce_orderline": "order_id", "commerce_payment": "order_id"}
    keys["core_changerecord"] = "object_id"
    for low, high in itertools.pairwise(bounds):
        chunk = []
        for table, (columns, rows) in written.items():
            key = columns.index(keys[table])
            part = [r for r in rows if low <= int(r[key]) < high]
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([placeholder] * len(columns))})"  # noqa: S608
            chunk.append((sql, part))
        if sqlite:
            conn.execute("BEGIN IMMEDIATE")
            for sql, part in chunk:
                if part:
                    conn.executemany(sql, part)
            conn.execute("COMMIT")
        else:
            with conn.transaction(), conn.cursor() as cursor:
                for sql, part in chunk:
                    if part:
                        cursor.executemany(sql, part)
    del order_cols


def run(db: str, rows: int, seed: int) -> dict[str, Any]:
    import_url, raw_url = _fresh_databases(db)
    common.setup_django(import_url, {"raw": raw_url})
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.db import connections

    from guanxi.commerce.models import Order, OrderLine, Payment
    from guanxi.core.models import ChangeRecord
    from guanxi.dataio.services import importing
    from guanxi.staff.models import User

    for alias in ("default", "raw"):
        call_command("migrate", database=alias, verbosity=0)
        _setup(alias)
    user = User.objects.get(username="importer")
    csv_path = common.BENCH_DIR / f"import-orders-{rows}.csv"
    started = time.perf_counter()
    expected_orders, expected_bad = write_csv(csv_path, rows, seed)
    generate_s = time.perf_counter() - started
    floors = {
        "commerce_order": Order.objects.order_by("-id").values_list("id", flat=True).first() or 0,
        "commerce_orderline": OrderLine.objects.order_by("-id").values_list("id", flat=True).first() or 0,
        "commerce_payment": Payment.objects.order_by("-id").values_list("id", flat=True).first() or 0,
        "core_changerecord": ChangeRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0,
    }
    order_type = ContentType.objects.get_for_model(Order).pk

    gc.collect()
    started = time.perf_counter()
    with csv_path.open("rb") as upload:
        job = importing.start_import(user, upload, csv_path.name, "order")
    upload_s = time.perf_counter() - started
    job = importing.set_mapping(user, job, job.mapping, "good_rows", "skip")
    started = time.perf_counter()
    job = importing.run_import(job.pk, dry_run=False)
    import_s = time.perf_counter() - started
    assert job.status == "done", job.error
    assert job.rejected_count == expected_bad, (job.rejected_count, expected_bad)
    assert Order.objects.count() == job.created_count

    sqlite = db == "sqlite"
    source, _placeholder = _raw_connection("default")
    written = _written(source, sqlite, floors, order_type)
    source.close()
    total_rows = sum(len(rows) for _columns, rows in written.values())
    connections.close_all()
    raw, _placeholder = _raw_connection("raw")
    gc.collect()
    started = time.perf_counter()
    _raw_insert(raw, sqlite, written, rows)
    raw_s = time.perf_counter() - started
    raw.close()
    assert Order.objects.using("raw").count() == job.created_count
    connections.close_all()
    return {
        "db": db,
        "csv_rows": rows,
        "orders_in_file": expected_orders,
        "created": job.created_count,
        "rejected_lines": job.rejected_count,
        "payments": len(written["commerce_payment"][1]),
        "db_rows": total_rows,
        "generate_s": generate_s,
        "upload_s": upload_s,
        "import_s": import_s,
        "raw_s": raw_s,
        "import_rate": total_rows / import_s,
        "raw_rate": total_rows / raw_s,
        "ratio": raw_s / import_s,
    }


def report(result: dict[str, Any]) -> str:
    r = result
    return "\n".join(
        [
            f"orders CSV import on {r['db']}: {r['csv_rows']:,} lines of {r['orders_in_file']:,} orders -> "
            f"{r['created']:,} orders created, {r['payments']:,} payments, {r['rejected_lines']:,} lines rejected; "
            f"{r['db_rows']:,} database rows ({common.machine()})",
            f"  write the CSV                 {r['generate_s']:8.1f} s",
            f"  upload (store, detect, count) {r['upload_s']:8.1f} s",
            f"  (a) run_import                {r['import_s']:8.1f} s  {r['import_rate']:>10,.0f} rows/s  "
            f"{r['csv_rows'] / r['import_s']:>8,.0f} CSV lines/s",
            f"  (b) raw driver executemany    {r['raw_s']:8.1f} s  {r['raw_rate']:>10,.0f} rows/s",
            f"  ratio (b)/(a) in time         {r['ratio']:8.2f}   (the import's share of the raw driver's rate)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(report(run(args.db, args.rows, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
