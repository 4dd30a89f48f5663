"""Duplicate finding on demo data with seeded duplicates: time, precision and recall.

The demo generator seeds near-copies (`DemoGenerator(duplicate_share=...)`: a typo, swapped name
fields, pinyin for characters, a homophone character, the same name; each copy keeps at least one
of the original's e-mail, phone or company and may add an e-mail or phone of its own) and lists
them in `seeded_duplicates`. This script loads such a data set into its own database, runs the
whole-database finder (`dataio.duplicates.find_person_pairs`) and compares the pairs it proposes
with the seeded ones:

- precision: proposed pairs that are seeded pairs / proposed pairs;
- recall: seeded pairs proposed / seeded pairs (also per kind of variant);
- compared: candidate pairs scored, against the n·(n-1)/2 an all-pairs comparison would score;
- store: the one transaction that replaces the stored `DuplicateCandidate` rows (`find_and_store`);
- list: one page of the duplicates list (`visible_pairs`: the keyset page of open pairs filtered
  in SQL to records the user sees, then the page's records) for an admin and for the rep owning
  the most people, first page and the 20th, median of 5 runs in ms.

Pairs of *generated* people that collide by chance (the demo's random phone numbers and
`familygiven12@qq.example` addresses repeat at this size) count against precision although a
real CRM would want to see some of them too.

The data set is made once per size and database and reused (a JSON marker beside it keeps the
seeded pairs): SQLite in /tmp/guanxi-bench-dup/, PostgreSQL databases `guanxi_bench_dup_<people>`.

    python benchmarks/bench_duplicates.py --db sqlite --people 100000
    python benchmarks/bench_duplicates.py --db postgres --people 1000000
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("GUANXI_BENCH_DIR", str(Path(tempfile.gettempdir()) / "guanxi-bench-dup"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common


def _database(db: str, accounts: int, people: int) -> tuple[str, Path]:
    common.BENCH_DIR.mkdir(parents=True, exist_ok=True)
    marker = common.BENCH_DIR / f"{db}-dup-{accounts}-{people}.json"
    if db == "sqlite":
        return common.sqlite_url(common.BENCH_DIR / f"dup-{accounts}-{people}.sqlite3"), marker
    return common.pg_url(f"guanxi_bench_dup_{people}"), marker


def _generate(db: str, accounts: int, people: int, share: float, marker: Path) -> dict[str, Any]:
    """(Re)create the database and load demo data with seeded duplicates; returns the marker."""
    if db == "sqlite":
        common.remove_sqlite(common.BENCH_DIR / f"dup-{accounts}-{people}.sqlite3")
    else:
        common.pg_recreate(f"guanxi_bench_dup_{people}")
    from django.core.management import call_command
    from django.db import connection

    from guanxi.customers import demo

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    size = demo.SIZES["large"]
    reference = demo.ensure_reference_data(size, demo.DEMO_PASSWORD)
    generator = demo.DemoGenerator(
        connection, reference, accounts=accounts, people=people, seed=11, duplicate_share=share
    )
    rows = 0
    for chunk in generator.chunks():
        rows += demo.write_chunk(chunk)
    demo.finish_load()
    info = {
        "accounts": accounts,
        "people": people,
        "share": share,
        "rows": rows,
        "load_seconds": round(time.perf_counter() - started, 1),
        "seeded": generator.seeded_duplicates,
    }
    marker.write_text(json.dumps(info))
    return info


def run(db: str, people: int, accounts: int, share: float, regenerate: bool) -> dict[str, Any]:
    url, marker = _database(db, accounts, people)
    if db == "postgres" and not common.pg_exists(f"guanxi_bench_dup_{people}"):
        common.pg_recreate(f"guanxi_bench_dup_{people}")
    common.setup_django(url)
    from guanxi.customers.models import Person
    from guanxi.dataio import duplicates

    info: dict[str, Any] | None = None
    if marker.exists() and not regenerate:
        info = json.loads(marker.read_text())
        try:
            if Person.objects.count() != people:
                info = None
        except Exception:
            info = None
    if info is None:
        print(f"generating {accounts:,} accounts, {people:,} people ({share:.1%} seeded near-copies)…", flush=True)
        info = _generate(db, accounts, people, share, marker)
        print(f"  loaded in {info['load_seconds']} s", flush=True)
    seeded = {(min(a, b), max(a, b)): variant for a, b, variant in info["seeded"]}

    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # a data set made before the candidate table
    started = time.perf_counter()
    report = duplicates.find_and_store("person", lambda text: print("  " + text, flush=True))
    total = time.perf_counter() - started
    seconds = report.seconds
    proposed = {(p.low_id, p.high_id) for p in report.pairs}
    hits = proposed & set(seeded)
    by_variant = Counter(seeded.values())
    found_by_variant = Counter(seeded[pair] for pair in hits)
    misses = [pair for pair in seeded if pair not in proposed][:10]
    result = {
        "db": db,
        "people": people,
        "accounts": accounts,
        "seconds": round(seconds, 1),
        "blocks": report.blocks,
        "compared": report.compared,
        "all_pairs": people * (people - 1) // 2,
        "proposed": len(proposed),
        "seeded": len(seeded),
        "true_positives": len(hits),
        "precision": round(len(hits) / len(proposed), 4) if proposed else 0.0,
        "recall": round(len(hits) / len(seeded), 4) if seeded else 0.0,
        "recall_by_variant": {v: f"{found_by_variant[v]}/{n}" for v, n in sorted(by_variant.items())},
        "sample_misses": misses,
        "store_seconds": round(total - seconds, 2),
        "list_ms": _list_timings(),
        "machine": common.machine(),
    }
    return result


def _median_ms(action: Any, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def _list_timings() -> dict[str, Any]:
    """First and 20th page of the duplicates list for an admin and for the busiest rep."""
    from django.db.models import Count

    from guanxi.customers.models import Person
    from guanxi.dataio import duplicates
    from guanxi.staff.models import StaffRole, User

    admin = User.objects.filter(role=StaffRole.ADMIN).first()
    busiest = (
        Person.objects.filter(owner__role=StaffRole.SALES_REP)
        .values("owner")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .values_list("owner", flat=True)
        .first()
    )
    rep = User.objects.filter(pk=busiest).first() if busiest is not None else None
    timings: dict[str, Any] = {}
    for label, user in (("admin", admin), ("rep", rep)):
        if user is None:
            continue
        cursor: str | None = None
        for _ in range(19):
            page = duplicates.visible_pairs(user, "person", cursor=cursor)
            cursor = page.next_cursor
            if cursor is None:
                break
        deep = cursor

        def first(user: Any = user) -> None:
            duplicates.visible_pairs(user, "person")

        def twentieth(user: Any = user, deep: str | None = deep) -> None:
            duplicates.visible_pairs(user, "person", cursor=deep)

        timings[label] = {
            "open_pairs": duplicates.open_candidates(user, "person").count(),
            "first_page": _median_ms(first),
            "page_20": _median_ms(twentieth) if deep else None,
        }
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=0, help="default: people / 10")
    parser.add_argument("--share", type=float, default=0.01, help="share of people seeded as near-copies")
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    result = run(args.db, args.people, args.accounts or args.people // 10, args.share, args.regenerate)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(
        f"| {result['db']} | {result['people']:,} | {result['seconds']} s | {result['compared']:,} "
        f"| {result['proposed']:,} | {result['precision']:.3f} | {result['recall']:.3f} "
        f"| {result['store_seconds']} s |"
    )


if __name__ == "__main__":
    main()
