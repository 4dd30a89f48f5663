"""Ingesting an online shop's order feed: `commerce.services.bulk_create_orders` against a plain
bulk insert of the same rows, in the same process and database.

Builds a fresh database with `--people` customers (each with an e-mail address), 60 products and
a CNY price list, then a feed of `--orders` orders (default 20,000; 1 to 5 lines, ≈3 on average;
buyers by e-mail, 1 % of them unknown so a person is created; a line user on some lines). Then:

(a) baseline: the same rows (orders, lines and one history row per order), prepared in Python
    with every id already known, written with `bulk_create` in one transaction per 1,000 orders
    (what the feed could cost at best through the ORM: no lookups, no validation, no numbering);
(b) the feed service, called with batches of 1,000 orders as `POST /api/orders/bulk/` does:
    bulk lookups, validation, prices from the price list, numbering, lines, history rows,
    "won deal" dates on the buyers, new people through `customers.services.create_person`;
(c) the same feed sent again (every order reported as existing).

It prints orders/s and rows/s of each and the ratio (b)/(a).

    python benchmarks/bench_orders_bulk.py --db sqlite --orders 20000
    BENCH_DATABASE_URL=postgres://guanxi:guanxi@127.0.0.1:5432/guanxi \
        python benchmarks/bench_orders_bulk.py --db postgres
"""

import argparse
import datetime
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common

BATCH = 1_000


def _database(db: str) -> str:
    if db == "sqlite":
        common.BENCH_DIR.mkdir(parents=True, exist_ok=True)
        path = common.BENCH_DIR / "orders-bulk.sqlite3"
        common.remove_sqlite(path)
        return common.sqlite_url(path)
    name = "guanxi_bench_orders"
    common.pg_recreate(name)
    return common.pg_url(name)


def _setup(people: int) -> tuple[Any, list[str], list[str]]:
    from django.core.management import call_command
    from django.db import transaction

    from guanxi.commerce.models import PriceList, PriceListItem, Product, ProductCategory
    from guanxi.customers.models import EmailAddress, Person
    from guanxi.staff.models import StaffRole, User

    call_command("migrate", verbosity=0)
    admin = User.objects.create(username="feed", role=StaffRole.ADMIN, is_staff=True)
    with transaction.atomic():
        category = ProductCategory.objects.create(name="Tea")
        products = Product.objects.bulk_create(
            [
                Product(sku=f"SKU-{n:03d}", name=f"Product {n}", unit_price=Decimal(10 + n), category=category)
                for n in range(60)
            ]
        )
        price_list = PriceList.objects.create(name="CNY", currency="CNY", is_default=True)
        PriceListItem.objects.bulk_create(
            [PriceListItem(price_list=price_list, product=p, unit_price=p.unit_price - 1) for p in products]
        )
        persons = Person.objects.bulk_create(
            [Person(family_name="王", given_name=f"客{n}", full_name=f"王客{n}") for n in range(people)],
            batch_size=2000,
        )
        EmailAddress.objects.bulk_create(
            [EmailAddress(person=p, address=f"c{n}@example.com", is_primary=True) for n, p in enumerate(persons)],
            batch_size=2000,
        )
    return admin, [p.sku for p in products], [f"c{n}@example.com" for n in range(people)]


def _feed(orders: int, skus: list[str], emails: list[str], seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    feed = []
    for n in range(orders):
        buyer = rng.choice(emails) if rng.random() > 0.01 else f"new{n}@example.com"
        lines: list[dict[str, Any]] = [
            {"sku": rng.choice(skus), "quantity": rng.randint(1, 4)} for _ in range(rng.choice((1, 2, 3, 3, 4, 5)))
        ]
        if rng.random() < 0.1:
            lines[0]["user_email"] = rng.choice(emails)
        feed.append(
            {
                "external_id": f"shop-{n}",
                "buyer_email": buyer,
                "ordered_at": (start + datetime.timedelta(minutes=37 * n)).isoformat(),
                "lines": lines,
            }
        )
    return feed


def _baseline(feed: list[dict[str, Any]]) -> tuple[float, int]:
    """Plain bulk_create of prepared rows; the rows are deleted afterwards (not timed)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction

    from guanxi.commerce.models import Order, OrderLine, PriceListItem, Product
    from guanxi.core.models import ChangeRecord
    from guanxi.customers.models import EmailAddress

    content_type = ContentType.objects.get_for_model(Order)

    by_email = dict(EmailAddress.objects.values_list("address", "person_id"))
    products = {p.sku: p.pk for p in Product.objects.all()}
    prices = dict(PriceListItem.objects.values_list("product_id", "unit_price"))
    fallback = next(iter(by_email.values()))
    rows = 0
    started = time.perf_counter()
    for start in range(0, len(feed), BATCH):
        with transaction.atomic():
            orders: list[Order] = []
            lines: list[list[OrderLine]] = []
            for index, data in enumerate(feed[start : start + BATCH]):
                order_lines = []
                subtotal = Decimal(0)
                for position, line in enumerate(data["lines"], start=1):
                    product_id = products[line["sku"]]
                    total = prices[product_id] * line["quantity"]
                    subtotal += total
                    order_lines.append(
                        OrderLine(
                            position=position,
                            product_id=product_id,
                            description=line["sku"],
                            quantity=Decimal(line["quantity"]),
                            unit_price=prices[product_id],
                            line_total=total,
                            user_person_id=by_email.get(line.get("user_email", "")),
                        )
                    )
                orders.append(
                    Order(
                        number=f"BL-{start + index:07d}",
                        external_id=f"bl-{data['external_id']}",
                        buyer_person_id=by_email.get(data["buyer_email"], fallback),
                        channel="online_shop",
                        ordered_at=datetime.datetime.fromisoformat(data["ordered_at"]),
                        subtotal_amount=subtotal,
                        total_amount=subtotal,
                    )
                )
                lines.append(order_lines)
            saved = Order.objects.bulk_create(orders, batch_size=500)
            flat = []
            for order, order_lines in zip(saved, lines, strict=True):
                for line in order_lines:
                    line.order = order
                flat.extend(order_lines)
            OrderLine.objects.bulk_create(flat, batch_size=1000)
            ChangeRecord.objects.bulk_create(
                [
                    ChangeRecord(
                        content_type=content_type,
                        object_id=order.pk,
                        action="create",
                        changes={"number": [None, order.number], "total_amount": [None, str(order.total_amount)]},
                    )
                    for order in saved
                ],
                batch_size=1000,
            )
            rows += len(saved) + len(flat)
    elapsed = time.perf_counter() - started
    baseline_ids = list(Order.objects.filter(number__startswith="BL-").values_list("pk", flat=True))
    ChangeRecord.objects.filter(content_type=content_type, object_id__in=baseline_ids).delete()
    OrderLine.objects.filter(order__number__startswith="BL-").delete()
    Order.objects.filter(number__startswith="BL-").delete()
    return elapsed, rows


def _service(admin: Any, feed: list[dict[str, Any]]) -> tuple[float, int, int, int]:
    from guanxi.commerce.models import Order, OrderLine
    from guanxi.commerce.services import bulk_create_orders

    created = existing = 0
    started = time.perf_counter()
    for start in range(0, len(feed), BATCH):
        result = bulk_create_orders(admin, feed[start : start + BATCH])
        created += len(result.created)
        existing += len(result.existing)
        if result.errors:
            raise SystemExit(f"unexpected feed errors: {result.errors[:3]}")
    elapsed = time.perf_counter() - started
    rows = Order.objects.count() + OrderLine.objects.count()
    return elapsed, rows, created, existing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    common.setup_django(_database(args.db))
    admin, skus, emails = _setup(args.people)
    feed = _feed(args.orders, skus, emails, args.seed)
    line_count = sum(len(order["lines"]) for order in feed)
    base_s, base_rows = _baseline(feed)
    service_s, service_rows, created, _existing = _service(admin, feed)
    again_s, _rows, created_again, existing_again = _service(admin, feed)
    print(f"# Order feed ingest, {args.orders:,} orders / {line_count:,} lines on {args.db} ({common.machine()})")
    print(
        f"baseline bulk_create: {base_s:.2f} s, {args.orders / base_s:,.0f} orders/s, {base_rows / base_s:,.0f} rows/s"
    )
    print(
        f"bulk_create_orders:   {service_s:.2f} s, {args.orders / service_s:,.0f} orders/s, "
        f"{service_rows / service_s:,.0f} rows/s (orders + lines; created {created:,})"
    )
    print(f"ratio service / baseline (time): {service_s / base_s:.2f}")
    print(
        f"feed sent again: {again_s:.2f} s, {args.orders / again_s:,.0f} orders/s "
        f"(created {created_again}, existing {existing_again:,})"
    )


if __name__ == "__main__":
    main()
