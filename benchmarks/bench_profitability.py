"""Profitability run: set-based aggregation vs a per-customer loop, and the review list's latency.

Builds (once per database, reused while its counts match) `--people` individual customers with
orders (one in four with a discount) and follow-up records, then times
1. a whole `services.run_profitability` (three grouped queries, rows written in batches), and
2. the baseline in the same process: what a per-customer loop would cost (three aggregate queries
   per customer, timed on a sample and scaled to all customers), so the ratio shows the gain;
3. the review list page (`GET /profitability/review/`, admin, first page and a deep page).

    python benchmarks/bench_profitability.py --db sqlite --people 50000
    BENCH_DATABASE_URL=postgres://... python benchmarks/bench_profitability.py --db postgres
"""

import argparse
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common

SAMPLE = 2000


def _prepare(people: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from guanxi.activities.models import Activity
    from guanxi.commerce.models import Order, OrderStatus
    from guanxi.customers.models import Person

    if Person.objects.filter(family_name__startswith="PBench").count() == people:
        return
    rng = random.Random(3)
    now = timezone.now()
    batch = 5000
    for start in range(0, people, batch):
        with transaction.atomic():
            created = Person.objects.bulk_create(
                [
                    Person(family_name=f"PBench{i}", given_name="B", full_name=f"PBench{i} B")
                    for i in range(start, min(people, start + batch))
                ]
            )
            ids = [p.pk for p in created]
            if ids and ids[0] is None:
                ids = sorted(Person.objects.order_by("-id").values_list("id", flat=True)[: len(created)])
            orders: list[Order] = []
            activities: list[Activity] = []
            for pk in ids:
                for _ in range(rng.randint(0, 3)):
                    subtotal = Decimal(rng.randint(50, 2000))
                    discount = Decimal(rng.randint(0, 100)) if rng.random() < 0.25 else Decimal(0)
                    orders.append(
                        Order(
                            number=f"PB-{pk}-{len(orders)}",
                            buyer_person_id=pk,
                            status=OrderStatus.CANCELLED if rng.random() < 0.05 else OrderStatus.CONFIRMED,
                            ordered_at=now,
                            subtotal_amount=subtotal,
                            discount_amount=discount,
                            total_amount=subtotal - discount,
                        )
                    )
                for _ in range(rng.randint(0, 4)):
                    activities.append(
                        Activity(
                            person_id=pk, kind=rng.choice(["call", "visit", "email"]), subject="b", occurred_at=now
                        )
                    )
            Order.objects.bulk_create(orders, batch_size=5000)
            Activity.objects.bulk_create(activities, batch_size=5000)
        print(f"  prepared {min(people, start + batch):,} / {people:,} people", flush=True)


def _per_customer(ids: list[int]) -> float:
    """The loop the set-based run replaces: three aggregate queries for each customer."""
    from django.db.models import Count, Sum

    from guanxi.activities.models import Activity
    from guanxi.commerce.models import Order, OrderLine

    started = time.perf_counter()
    for pk in ids:
        Order.objects.filter(buyer_person_id=pk).exclude(status__in=["cancelled", "returned"]).aggregate(
            Sum("subtotal_amount"), Sum("discount_amount"), Count("id")
        )
        OrderLine.objects.filter(order__buyer_person_id=pk).aggregate(Sum("discount_amount"))
        list(Activity.objects.filter(person_id=pk).values("kind").annotate(n=Count("id")).order_by())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--people", type=int, default=50_000)
    args = parser.parse_args()
    if args.db == "sqlite":
        common.BENCH_DIR.mkdir(parents=True, exist_ok=True)
        url = common.sqlite_url(common.BENCH_DIR / f"profitability-{args.people}.sqlite3")
    else:
        name = "guanxi_bench_profitability"
        common.pg_create_if_missing(name)
        url = common.pg_url(name)
    common.setup_django(url)

    from django.core.management import call_command
    from django.test import Client

    from guanxi.customers.models import Person
    from guanxi.profitability import services
    from guanxi.staff.models import StaffRole, User

    call_command("migrate", verbosity=0)
    _prepare(args.people)
    admin, _created = User.objects.get_or_create(username="bench-admin", defaults={"role": StaffRole.ADMIN})
    services.update_settings(
        admin, currency="CNY", ticket_cost="40", activity_costs={"call": "15", "visit": "260", "email": "3"}
    )
    started = time.perf_counter()
    run = services.run_profitability(None)
    run_seconds = time.perf_counter() - started
    customers = run.customers
    ids = list(Person.objects.filter(family_name__startswith="PBench").values_list("id", flat=True)[:SAMPLE])
    loop_seconds = _per_customer(ids) / len(ids) * customers

    client = Client()
    client.force_login(admin)
    client.get("/profitability/review/")
    pages = []
    for _ in range(50):
        t = time.perf_counter()
        response = client.get("/profitability/review/")
        pages.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200
    print(common.machine())
    print(f"database: {args.db}, customers: {customers:,}, at a loss: {run.results['totals']['loss_customers']:,}")
    print(f"set-based run (compute + write rows)   {run_seconds:8.2f} s  ({customers / run_seconds:,.0f} customers/s)")
    ratio = loop_seconds / run_seconds
    print(f"baseline per-customer loop (scaled)     {loop_seconds:8.2f} s  (ratio {ratio:.1f}x slower)")
    print(f"review list page p50 {common.percentile(pages, 0.5):6.2f} ms  p99 {common.percentile(pages, 0.99):6.2f} ms")


if __name__ == "__main__":
    main()
