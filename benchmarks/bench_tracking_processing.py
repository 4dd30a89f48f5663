"""Tracking processing alone: `services.process_landed_events` over landed SDK events.

Builds `--events` messages with the Segment Python SDK exactly as `bench_tracking_ingest.py`
does (`build_messages`: page and track calls of `--visitors` anonymous visitors, a share
`--identify-share` of identify calls with a user id, an e-mail and a name), lands them through
`services.land_messages` (no HTTP), then in the same process:

(a) baseline: a plain set-based pass over the same rows, batch by batch as processing takes
    them: unpack the landed batches into events (since 2026-12-02, fourth session, requests
    land as one row each), read the batch's columns processing reads above the watermark (payload included, so
    the JSON is decoded once) and move the watermark (one UPDATE of the checkpoint row); rolled
    back, so (b) finds the rows unprocessed. (Until 2026-12-02 processing marked each row, and
    this pass marked them too, with one `UPDATE … SET processed_at` of the batch's id range.)
(b) processing: `process_landed_events(batch_size=…)`, committed: identity, profiles, new
    contacts, sessions, computed traits, the tracking-plan counters.

With `--rounds 2` a second set of events from the same visitors (a later day) is landed and
processed after the first: the steady state, where most identifiers are known. It prints events/s
for each and the ratio (b)/(a); the issue's target is 20,000 events/s on PostgreSQL.
`--profile FILE` writes cProfile statistics of the (last) processing run. Wall-clock figures
move with the machine's load (printed beside them); the CPU seconds of this process (Python's
share, without the database server's) move less.

    python benchmarks/bench_tracking_processing.py --db sqlite --events 50000
    BENCH_DATABASE_URL=postgres://... python benchmarks/bench_tracking_processing.py --db postgres
"""

import argparse
import cProfile
import datetime
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common
from benchmarks.bench_tracking_ingest import build_messages

TARGET = 20_000
LAND_BATCH = 500


def _database(db: str) -> str:
    if db == "postgres":
        common.pg_recreate("guanxi_bench_processing")
        return common.pg_url("guanxi_bench_processing")
    common.BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = common.BENCH_DIR / "tracking-processing.sqlite3"
    common.remove_sqlite(path)
    return common.sqlite_url(path)


def land(source: Any, messages: list[dict[str, Any]], day: int) -> int:
    """Land the messages in batches as the endpoint would, each moved `day` days later."""
    from django.utils import timezone

    from guanxi.tracking import services
    from guanxi.tracking.messages import clean_body

    shift = datetime.timedelta(days=day)
    landed = 0
    for start in range(0, len(messages), LAND_BATCH):
        now = timezone.now() + shift
        batch = []
        for message in messages[start : start + LAND_BATCH]:
            at = datetime.datetime.fromisoformat(str(message["timestamp"])) + shift
            batch.append({**message, "messageId": f"{message['messageId']}-{day}", "timestamp": at.isoformat()})
        clean, errors = clean_body({"batch": batch}, endpoint="batch", received_at=now)
        if errors:
            raise RuntimeError(f"bad messages: {errors[:3]}")
        landed += services.land_messages(source, clean, now).stored
    return landed


def baseline(batch_size: int) -> tuple[int, float]:
    """Read each batch of unprocessed rows once and move the watermark past it; rolled back."""
    from django.db import transaction

    from guanxi.tracking import services
    from guanxi.tracking.models import LandedEvent, ProcessingCheckpoint
    from guanxi.tracking.services.processing import _read_rows, processed_up_to

    rows = 0
    started = time.perf_counter()
    with transaction.atomic():
        ProcessingCheckpoint.objects.get_or_create(name="default")
        while services.unpack_batches(batch_size):
            pass  # the landed batches into events, as processing does first
        last_id = processed_up_to()
        while True:
            # Read and decoded as processing reads them (payload as text, decoded by orjson).
            batch = _read_rows(LandedEvent.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
            if not batch:
                break
            last_id = batch[-1].pk
            rows += len(batch)
            ProcessingCheckpoint.objects.filter(name="default").update(last_event_id=last_id)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return rows, elapsed


def counts() -> dict[str, int]:
    from guanxi.customers.models import Person
    from guanxi.tracking.models import ComputedTraits, Identifier, Profile, ProfileMerge, Session

    return {
        "profiles": Profile.objects.count(),
        "identifiers": Identifier.objects.count(),
        "merges": ProfileMerge.objects.count(),
        "sessions": Session.objects.count(),
        "traits": ComputedTraits.objects.count(),
        "people": Person.objects.count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--visitors", type=int, default=20_000)
    parser.add_argument("--identify-share", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=1, help="2: the same visitors again a day later")
    parser.add_argument("--profile", help="write cProfile statistics of the last processing run here")
    args = parser.parse_args(argv)

    url = _database(args.db)
    common.setup_django(url)
    from django.core.management import call_command
    from django.db import connection

    from guanxi.staff.models import StaffRole, User
    from guanxi.tracking import services

    call_command("migrate", verbosity=0)
    admin = User.objects.create(username="bench-admin", role=StaffRole.ADMIN)
    source, _key = services.create_source(admin, {"name": "Bench"})
    print(f"tracking processing on {args.db}: {common.machine()}; load average {os.getloadavg()[0]:.2f}")
    print(
        f"building {args.events:,} messages of {args.visitors:,} visitors "
        f"({args.identify_share:.0%} identify) with the Segment Python SDK…",
        flush=True,
    )
    messages = build_messages(args.events, args.visitors, seed=11, identify_share=args.identify_share)
    for day in range(args.rounds):
        landed = land(source, messages, day)
        if args.db == "postgres":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        base_rows, base_s = baseline(args.batch_size)
        profiler = cProfile.Profile() if args.profile and day == args.rounds - 1 else None
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        result = services.process_landed_events(batch_size=args.batch_size)
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        rate, base_rate = result["processed"] / elapsed, base_rows / base_s
        label = "new visitors" if day == 0 else f"day {day + 1}, known visitors"
        print(f"round {day + 1} ({label}): {landed:,} landed; load average {os.getloadavg()[0]:.2f}")
        print(f"  (a) baseline read + mark: {base_rows:>9,} rows   in {base_s:6.2f} s = {base_rate:>9,.0f} rows/s")
        print(
            f"  (b) processing:           {result['processed']:>9,} events in {elapsed:6.2f} s = "
            f"{rate:>9,.0f} events/s "
            f"(target {TARGET:,}; {result['batches']} batches of {args.batch_size:,}; "
            f"{cpu:.2f} s of this process's CPU)"
        )
        print(f"  ratio (b)/(a): {rate / base_rate:.3f}")
    print("  rows: " + ", ".join(f"{name} {n:,}" for name, n in counts().items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
