"""Next-offers API latency (p50/p99) with precomputed suggestions for many customers.

Builds (once per database, reused while its counts match) `--people` contacts with five
precomputed offers each, then times `GET /api/next-offers/?person=<random id>` through the full
Django stack (token authentication, visibility check, the offers read) with `django.test.Client`
and production settings. Baseline in the same process: `GET /api/` (the API root: the same
middleware and authentication, no analytics query), so the ratio shows what the offers cost
above the bare request. Target: p99 under 20 ms.

    python benchmarks/bench_analytics_offers.py --db sqlite
    BENCH_DATABASE_URL=postgres://... python benchmarks/bench_analytics_offers.py --db postgres
"""

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common

TARGET_P99_MS = 20.0
OFFERS_EACH = 5


def _prepare(people: int) -> None:
    from django.db import transaction

    from guanxi.analytics.models import AnalyticsRun, OfferSuggestion, RunKind, RunStatus
    from guanxi.commerce.models import Product
    from guanxi.customers.models import Person

    if OfferSuggestion.objects.count() == people * OFFERS_EACH:
        return
    OfferSuggestion.objects.all().delete()
    Person.objects.filter(family_name__startswith="Bench").delete()
    products = [Product(sku=f"BENCH-{i:03d}", name=f"Bench product {i}") for i in range(50)]
    Product.objects.bulk_create(products, ignore_conflicts=True)
    product_ids = list(Product.objects.filter(sku__startswith="BENCH-").values_list("id", flat=True))
    rng = random.Random(11)
    run = AnalyticsRun.objects.create(kind=RunKind.RULES, status=RunStatus.SUCCEEDED, engine_version="bench")
    batch = 10_000
    for start in range(0, people, batch):
        with transaction.atomic():
            created = Person.objects.bulk_create(
                [
                    Person(family_name=f"Bench{i}", given_name="B", full_name=f"Bench{i} B")
                    for i in range(start, min(people, start + batch))
                ]
            )
            if created and created[0].pk is None:  # databases that do not return ids
                last = Person.objects.order_by("-id").values_list("id", flat=True)[: len(created)]
                ids = sorted(last)
            else:
                ids = [p.pk for p in created]
            OfferSuggestion.objects.bulk_create(
                [
                    OfferSuggestion(
                        run=run,
                        person_id=pk,
                        rank=rank,
                        product_id=rng.choice(product_ids),
                        because=[rng.choice(product_ids)],
                        because_names=["Bench product"],
                        confidence=rng.random(),
                        lift=1 + rng.random(),
                    )
                    for pk in ids
                    for rank in range(1, OFFERS_EACH + 1)
                ],
                batch_size=5000,
            )
        print(f"  prepared {min(people, start + batch):,} / {people:,} people", flush=True)


def _time(client: Any, urls: list[str]) -> list[float]:
    times = []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}: {response.content[:200]!r}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    if args.db == "sqlite":
        common.BENCH_DIR.mkdir(parents=True, exist_ok=True)
        url = common.sqlite_url(common.BENCH_DIR / f"offers-{args.people}.sqlite3")
    else:
        name = "guanxi_bench_offers"
        common.pg_create_if_missing(name)
        url = common.pg_url(name)
    common.setup_django(url)

    from django.core.management import call_command
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from guanxi.customers.models import Person
    from guanxi.staff.models import StaffRole, User

    call_command("migrate", verbosity=0)
    _prepare(args.people)
    user, _created = User.objects.get_or_create(username="bench-shop", defaults={"role": StaffRole.MARKETER})
    token, _created = Token.objects.get_or_create(user=user)
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    ids = list(Person.objects.filter(family_name__startswith="Bench").values_list("id", flat=True))
    rng = random.Random(5)
    offer_urls = [f"/api/next-offers/?person={rng.choice(ids)}" for _ in range(args.requests)]
    base_urls = ["/api/"] * args.requests
    _time(client, offer_urls[:100] + base_urls[:100])  # warm-up
    baseline = _time(client, base_urls)
    offers = _time(client, offer_urls)
    p50, p99 = common.percentile(offers, 0.5), common.percentile(offers, 0.99)
    b50, b99 = common.percentile(baseline, 0.5), common.percentile(baseline, 0.99)
    print(common.machine())
    print(f"database: {args.db}, people with offers: {args.people:,}, requests: {args.requests:,}")
    print(f"baseline GET /api/           p50 {b50:6.2f} ms  p99 {b99:6.2f} ms")
    print(f"GET /api/next-offers/?person p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  (ratio p50 {p50 / b50:.2f}x)")
    verdict = "PASS" if p99 < TARGET_P99_MS else "FAIL"
    print(f"target p99 < {TARGET_P99_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
