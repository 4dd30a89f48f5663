"""Tracking ingestion and processing rates, against the database driver's raw insert of the same rows.

A Guanxi server runs in its own process(es) on loopback, with automatic processing off so
acknowledgement is measured alone: `--server waitress` is `manage.py serve` (waitress, one
process, `--threads` threads, as `make run` uses); `--server gunicorn` is
`gunicorn guanxi.wsgi:application --worker-class gthread --workers N --threads T` (N processes,
so N interpreters and no shared GIL). Both serve `guanxi.wsgi.application`, whose /v1/* requests
skip Django's middleware (`guanxi.tracking.ingest.IngestApplication`). Sender, server and
database share the same machine (`cores` in the first output line) and compete for it. This process is
the sender: it builds messages with the official Segment Python SDK (`segment-analytics-python`,
`send=False`, so the SDK's own message format), groups them 100 to a batch as the SDK uploads
them, and posts them over `--connections` keep-alive HTTP connections. Then:

(a) acknowledged events/s: `--events` events in batches to /v1/batch, each 200 meaning committed;
(b) p99 latency of single-event calls: `--single` sequential POSTs to /v1/track;
(c) processing events/s: `process_landed_events` over everything (a) and (b) landed;
(d) the raw driver (`sqlite3` / `psycopg`) inserting the same events' rows with `executemany`,
    one transaction per 100 rows, into the emptied table; ratio (a)/(d). Since acknowledging
    lands one `LandedBatch` row per request (unpacked into events by processing), also the raw
    driver inserting those batch rows, one transaction each as the endpoint commits them.

    python benchmarks/bench_tracking_ingest.py --db sqlite
    BENCH_DATABASE_URL=postgres://... python benchmarks/bench_tracking_ingest.py --db postgres
    python benchmarks/bench_tracking_ingest.py --db postgres --server gunicorn --workers 2
"""

import argparse
import base64
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common
from benchmarks.bench_demo_load import _raw_connection

TARGET_ACKED = 30_000
TARGET_PROCESSED = 20_000
TARGET_P99_MS = 50.0
BATCH = 100


def build_messages(count: int, visitors: int, seed: int, identify_share: float = 0.01) -> list[dict[str, Any]]:
    """Messages as the Segment Python SDK builds them: page and track, `identify_share` identify."""
    # The SDK ships no type information; it only builds the messages here.
    from segment.analytics.client import Client as SegmentClient  # type: ignore[import-untyped]

    sdk = SegmentClient("bench", send=False, sync_mode=True)
    rng = random.Random(seed)
    messages = []
    for n in range(count):
        visitor = rng.randrange(visitors)
        anonymous_id = f"anon-{seed}-{visitor}"
        roll = rng.random()
        if roll < identify_share:
            _ok, msg = sdk.identify(
                f"user-{visitor}",
                {"email": f"visitor{visitor}@example.com", "firstName": "Bench", "plan": rng.choice(["free", "pro"])},
                anonymous_id=anonymous_id,
            )
        elif roll < identify_share + 0.33:
            _ok, msg = sdk.page(
                anonymous_id=anonymous_id,
                name=rng.choice(["Home", "Tea", "Cart"]),
                properties={"path": f"/p/{n % 500}", "referrer": "https://search.example/"},
            )
        else:
            _ok, msg = sdk.track(
                anonymous_id=anonymous_id,
                event=rng.choice(["Product Viewed", "Product Added", "Checkout Started"]),
                properties={"sku": f"SKU-{n % 997}", "price": round(rng.uniform(5, 500), 2), "currency": "CNY"},
                context={"ip": "10.0.0.1", "userAgent": "Mozilla/5.0 (bench)", "locale": "zh-CN"},
            )
        messages.append(msg)
    return messages


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(server: str, port: int, threads: int, workers: int) -> list[str]:
    if server == "gunicorn":
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "guanxi.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ]
    command = [sys.executable, str(common.ROOT / "manage.py"), "serve", "--no-demo", "--port", str(port)]
    return [*command, "--threads", str(threads)]


def start_server(
    url: str, port: int, threads: int, server: str = "waitress", workers: int = 1
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "guanxi.settings.base",
        # Acknowledgement is measured alone; processing is measured by (c) in this process.
        "TASKS_BACKEND": "django.tasks.backends.dummy.DummyBackend",
        "GUANXI_DATA_DIR": str(common.BENCH_DIR / "data"),
        "LOG_LEVEL": "ERROR",
    }
    process = subprocess.Popen(  # noqa: S603  -- our own server command
        server_command(server, port, threads, workers), env=env, stdout=subprocess.DEVNULL, cwd=common.ROOT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def _send_all(port: int, headers: dict[str, str], bodies: list[bytes], path: str, latencies: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for body in bodies:
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
    conn.close()


def post_concurrently(
    port: int, key: str, bodies: list[bytes], connections: int, path: str
) -> tuple[float, list[float]]:
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        "User-Agent": "analytics-python/bench",
    }
    shares = [bodies[i::connections] for i in range(connections)]
    latencies: list[float] = []
    threads = [
        threading.Thread(target=_send_all, args=(port, headers, share, path, latencies)) for share in shares if share
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies


def raw_insert(
    rows: list[tuple[Any, ...]], columns: list[str], table: str = "tracking_landedevent", per_transaction: int = BATCH
) -> float:
    """The same rows through the driver alone, one transaction per `per_transaction` rows."""
    conn, mark = _raw_connection("default")
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"  # noqa: S608  -- fixed table and column names
    started = time.perf_counter()
    if mark == "?":
        for start in range(0, len(rows), per_transaction):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows[start : start + per_transaction])
            conn.execute("COMMIT")
    else:
        for start in range(0, len(rows), per_transaction):
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(sql, rows[start : start + per_transaction])
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def _cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and its live child processes (gunicorn's workers) so
    far, from Linux's `/proc`; 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK") + sum(_cpu_seconds(int(child)) for child in children)


def _load() -> str:
    """The 1-minute load average: on a shared machine a figure means little without it."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--visitors", type=int, default=20_000)
    parser.add_argument("--single", type=int, default=2_000, help="single-event calls timed for the p99")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--server", choices=["waitress", "gunicorn"], default="waitress")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per server process")
    parser.add_argument("--no-processing", action="store_true", help="skip (c), the processing rate")
    parser.add_argument("--batch-size", type=int, default=20_000, help="processing batch size")
    parser.add_argument(
        "--identify-share", type=float, default=0.01, help="share of identify calls (each may create a contact)"
    )
    args = parser.parse_args(argv)

    common.BENCH_DIR.mkdir(parents=True, exist_ok=True)
    if args.db == "postgres":
        common.pg_recreate("guanxi_bench_tracking")
        url = common.pg_url("guanxi_bench_tracking")
    else:
        path = common.BENCH_DIR / "tracking.sqlite3"
        common.remove_sqlite(path)
        url = common.sqlite_url(path)
    common.setup_django(url)
    from django.core.management import call_command
    from django.db import connection

    from guanxi.staff.models import StaffRole, User
    from guanxi.tracking import services
    from guanxi.tracking.models import LandedBatch, LandedEvent

    call_command("migrate", verbosity=0)
    admin = User.objects.create(username="bench-admin", role=StaffRole.ADMIN)
    _source, key = services.create_source(admin, {"name": "Bench"})
    connection.close()

    print(f"tracking ingestion on {args.db}: {common.machine()}")
    print(f"building {args.events:,} messages with the Segment Python SDK…", flush=True)
    messages = build_messages(args.events, args.visitors, seed=11, identify_share=args.identify_share)
    bodies = []
    for start in range(0, len(messages), BATCH):
        sent_at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        bodies.append(json.dumps({"batch": messages[start : start + BATCH], "sentAt": sent_at}).encode())
    singles = [
        json.dumps({**m, "messageId": str(uuid.uuid4()), "type": "track", "event": "Single"}).encode()
        for m in build_messages(args.single, args.visitors, seed=12)
        if m["type"] == "track"
    ]

    port = _free_port()
    server = start_server(url, port, args.threads, args.server, args.workers)
    served_by = (
        f"gunicorn gthread, {args.workers} processes x {args.threads} threads"
        if args.server == "gunicorn"
        else f"waitress (manage.py serve), 1 process x {args.threads} threads"
    )
    try:
        post_concurrently(port, key, bodies[:5], 1, "/v1/batch")  # warm up (imports, connections)
        server_cpu = _cpu_seconds(server.pid)
        sender_cpu = time.process_time()
        elapsed, batch_latencies = post_concurrently(port, key, bodies[5:], args.connections, "/v1/batch")
        server_cpu = _cpu_seconds(server.pid) - server_cpu
        sender_cpu = time.process_time() - sender_cpu
        acked = sum(len(json.loads(b)["batch"]) for b in bodies[5:])
        acked_rate = acked / elapsed
        _single_elapsed, single_latencies = post_concurrently(port, key, singles, 1, "/v1/track")
    finally:
        server.terminate()
        server.wait(timeout=30)

    batch_columns = ["source_id", "received_at", "message_count", "messages"]
    batch_rows = list(LandedBatch.objects.order_by("id").values_list(*batch_columns))
    total = sum(row[2] for row in batch_rows) + LandedEvent.objects.count()
    processed, processing = 0, 0.0
    if not args.no_processing:
        started = time.perf_counter()
        processed = services.process_landed_events(batch_size=args.batch_size)["processed"]
        processing = time.perf_counter() - started
    else:
        while services.unpack_batches(args.batch_size):
            pass  # the events rows for (d), unprocessed

    columns = [
        "source_id",
        "message_id",
        "type",
        "event",
        "user_id",
        "anonymous_id",
        "payload",
        "received_at",
        "timestamp",
    ]
    rows = list(LandedEvent.objects.order_by("id").values_list(*columns))
    if args.db == "postgres":
        from psycopg.types.json import Jsonb

        rows = [(*r[:6], Jsonb(r[6]), *r[7:]) for r in rows]
    else:
        rows = [(*r[:6], json.dumps(r[6]), r[7].isoformat(), r[8].isoformat()) for r in rows]
    LandedEvent.objects.all().delete()
    connection.close()
    raw = raw_insert(rows, columns)
    raw_rate = len(rows) / raw
    if args.db == "sqlite":
        batch_rows = [(r[0], r[1].isoformat(), *r[2:]) for r in batch_rows]
    raw_batches = raw_insert(batch_rows, batch_columns, table=LandedBatch._meta.db_table, per_transaction=1)

    p99 = common.percentile(single_latencies, 0.99) * 1000
    print(f"  server: {served_by}; {args.connections} sender connections; load average {_load()}")
    print(
        f"  acknowledged (durable):   {acked:>9,} events in {elapsed:6.2f} s = {acked_rate:>9,.0f} events/s "
        f"(target {TARGET_ACKED:,}; batch p99 {common.percentile(batch_latencies, 0.99) * 1000:.1f} ms)"
    )
    print(
        f"  CPU per acknowledged event: server {server_cpu / acked * 1e6:.1f} µs "
        f"(its process{'es' if args.server == 'gunicorn' else ''}), sender {sender_cpu / acked * 1e6:.1f} µs"
    )
    print(
        f"  single-event calls:       {len(single_latencies):>9,} calls, median "
        f"{common.median(single_latencies) * 1000:.1f} ms, p99 {p99:.1f} ms (target < {TARGET_P99_MS:.0f} ms)"
    )
    if args.no_processing:
        print(f"  processing:               skipped (--no-processing); {total:,} landed")
    else:
        print(
            f"  processing:               {processed:>9,} events in {processing:6.2f} s = "
            f"{processed / processing:>9,.0f} events/s (target {TARGET_PROCESSED:,}); {total:,} landed"
        )
    print(f"  raw driver insert:        {len(rows):>9,} rows   in {raw:6.2f} s = {raw_rate:>9,.0f} rows/s")
    print(f"  ratio acknowledged / raw: {acked_rate / raw_rate:.2f}")
    batch_rate = total / raw_batches
    print(
        f"  raw driver, batch rows:   {len(batch_rows):>9,} rows   in {raw_batches:6.2f} s = "
        f"{batch_rate:>9,.0f} events/s (the rows acknowledging landed, one per request and transaction)"
    )
    print(f"  ratio acknowledged / raw batch rows: {acked_rate / batch_rate:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
