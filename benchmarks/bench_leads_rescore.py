"""Lead scoring at scale: the rescore-all job and `record_lead_activity`.

Builds `--leads` leads (default 100,000) with `bulk_create` and the demo's seven scoring rules,
then, in the same process:

- baseline: read every lead in batches of 1,000 and `bulk_update` its score column unchanged
  (the cheapest batched read-and-write of every row);
- rescore: `services.rescore_leads()` after the rules change (every lead's score, reasons and
  grade recomputed and written);
- activity: 1,000 `record_lead_activity` calls (F() count, date, rescore of one lead) against a
  baseline of 1,000 bare `UPDATE … SET activity_count = activity_count + 1`.

    python benchmarks/bench_leads_rescore.py --db sqlite
    BENCH_DATABASE_URL=postgres://guanxi:guanxi@127.0.0.1:5432/guanxi \
        python benchmarks/bench_leads_rescore.py --db postgres
"""

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common


def _database(db: str, leads: int) -> str:
    if db == "sqlite":
        common.BENCH_DIR.mkdir(parents=True, exist_ok=True)
        path = common.BENCH_DIR / f"leads-{leads}.sqlite3"
        common.remove_sqlite(path)
        return common.sqlite_url(path)
    name = "guanxi_bench_leads"
    common.pg_recreate(name)
    return common.pg_url(name)


def run(db: str, count: int) -> dict[str, Any]:
    common.setup_django(_database(db, count))
    from django.core.management import call_command
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from guanxi.leads import demo, services
    from guanxi.leads.models import Lead, ScoringRule
    from guanxi.staff.models import StaffRole, User

    call_command("migrate", verbosity=0)
    admin = User.objects.create(username="bench-admin", role=StaffRole.ADMIN)
    for position, data in enumerate(demo.SCORING_DEFAULTS):
        ScoringRule.objects.create(**data, position=position)
    rng = random.Random(1)  # benchmark data, not secrets
    now = timezone.now()
    start = time.perf_counter()
    rows = [
        Lead(
            family_name=f"L{i}",
            full_name=f"L{i}",
            company_name=f"Company {i % 5000}",
            phone="+8613812345678" if i % 3 else "",
            industry=rng.choice(demo.INDUSTRIES),
            source=rng.choice([s for s, _w in demo.SOURCES]),
            activity_count=rng.randint(0, 6),
            last_activity_at=now if i % 4 == 0 else None,
            attributes={"company_size": rng.choice(["1-49", "50-499", "500+"])},
        )
        for i in range(count)
    ]
    Lead.objects.bulk_create(rows, batch_size=2000)
    generated = time.perf_counter() - start

    start = time.perf_counter()
    last = 0
    while True:
        batch = list(Lead.objects.filter(pk__gt=last).order_by("pk")[:1000])
        if not batch:
            break
        last = batch[-1].pk
        with transaction.atomic():
            Lead.objects.bulk_update(batch, ["score"], batch_size=500)
    baseline = time.perf_counter() - start

    start = time.perf_counter()
    changed = services.rescore_leads()
    rescore = time.perf_counter() - start

    ids = list(Lead.objects.order_by("?").values_list("pk", flat=True)[:1000])
    start = time.perf_counter()
    for pk in ids:
        with transaction.atomic():
            Lead.objects.filter(pk=pk).update(activity_count=F("activity_count") + 1)
    activity_baseline = time.perf_counter() - start
    start = time.perf_counter()
    for pk in ids:
        services.record_lead_activity(pk, now)
    activity = time.perf_counter() - start
    assert admin.pk
    return {
        "db": db,
        "leads": count,
        "generate_s": generated,
        "baseline_s": baseline,
        "rescore_s": rescore,
        "changed": changed,
        "ratio": rescore / baseline if baseline else float("nan"),
        "activity_baseline_ms": activity_baseline,
        "activity_ms": activity,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--leads", type=int, default=100_000)
    args = parser.parse_args()
    f = run(args.db, args.leads)
    print(f"# Lead rescoring, {f['leads']:,} leads on {f['db']} ({common.machine()})")
    print(f"generated in {f['generate_s']:.1f} s")
    print(f"baseline batched read + bulk_update of every score: {f['baseline_s']:.2f} s")
    print(f"rescore_leads (7 rules, {f['changed']:,} changed): {f['rescore_s']:.2f} s")
    print(f"ratio rescore / baseline: {f['ratio']:.2f}")
    print(
        f"1,000 record_lead_activity: {f['activity_ms']:.2f} s "
        f"(baseline 1,000 bare F() updates: {f['activity_baseline_ms']:.2f} s, "
        f"ratio {f['activity_ms'] / f['activity_baseline_ms']:.1f})"
    )


if __name__ == "__main__":
    main()
