"""Landing: store valid messages as sent, once per (source, messageId), before answering 200."""

import datetime
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from guanxi.core.db import server_binding_cursor
from guanxi.tracking.messages import CleanMessage
from guanxi.tracking.models import LandedEvent, Source

# At most one processing job is queued per process per this many seconds: the job drains the
# whole backlog, so queueing one per request would only add rows to the task table.
SCHEDULE_INTERVAL_SECONDS = 1.0
_last_scheduled = 0.0


@dataclass(frozen=True)
class LandingResult:
    stored: int


def _schedule_processing() -> None:
    global _last_scheduled  # a per-process debounce clock, nothing else shares it
    if not getattr(settings, "TRACKING_PROCESS_ON_LANDING", True):
        return
    now = time.monotonic()
    if now - _last_scheduled < SCHEDULE_INTERVAL_SECONDS:
        return
    _last_scheduled = now
    from guanxi.tracking.tasks import process_events  # the task module imports these services

    process_events.enqueue()


def reset_schedule_clock() -> None:
    """Tests call this so each starts with processing schedulable."""
    global _last_scheduled
    _last_scheduled = 0.0


def _insert_sql(vendor: str, rows: int) -> str:
    """One multi-row INSERT of placeholders only (values travel as parameters), skipping a
    (source, message_id) already stored. Built from the model's own table and column names."""
    payload = "%s::jsonb" if vendor == "postgresql" else "%s"
    row = "(" + ", ".join(payload if name == "payload" else "%s" for name in INSERT_FIELDS) + ")"
    return (
        f"INSERT INTO {LandedEvent._meta.db_table} ({_columns()}) VALUES "  # noqa: S608  -- names from the model, values are parameters
        + ", ".join([row] * rows)
        + " ON CONFLICT DO NOTHING"
    )


INSERT_FIELDS = (
    "source",
    "message_id",
    "type",
    "event",
    "user_id",
    "anonymous_id",
    "payload",
    "received_at",
    "timestamp",
)
INSERT_CHUNK = 500


def _columns() -> str:
    """The model's own column names for `INSERT_FIELDS`."""
    return ", ".join(f"{name}_id" if name == "source" else name for name in INSERT_FIELDS)


def _unnest_sql() -> str:
    """PostgreSQL: the whole batch as one array per column, so the statement has nine parameters
    whatever the batch size and they travel in binary, without quoting each value. (Django turns
    psycopg's prepared statements off for the sake of connection poolers; so is this one.)"""
    return (
        f"INSERT INTO {LandedEvent._meta.db_table} ({_columns()}) "  # noqa: S608  -- names from the model, values are parameters
        "SELECT %b, m, t, e, u, a, p::jsonb, %b, ts "
        "FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::timestamptz[]) "
        "AS rows (m, t, e, u, a, p, ts) ON CONFLICT DO NOTHING"
    )


def _land_postgresql(source: Source, messages: Sequence[CleanMessage], received_at: datetime.datetime) -> None:
    params = [
        source.pk,
        received_at,
        [m.message_id for m in messages],
        [m.type for m in messages],
        [m.event for m in messages],
        [m.user_id for m in messages],
        [m.anonymous_id for m in messages],
        [m.payload_json or _dumps(m.payload) for m in messages],
        [m.timestamp for m in messages],
    ]
    # Client-side binding was most of the request's time for a 900-parameter VALUES list.
    with server_binding_cursor() as cursor:
        cursor.execute(_UNNEST_SQL, params)


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


# SQLite has one writer at a time, and a waiting writer polls with sleeps of up to 100 ms; the
# server's threads queue here instead, each taking the database's write lock when it is free.
_SQLITE_WRITER = threading.Lock()


def land_messages(source: Source, messages: Sequence[CleanMessage], received_at: datetime.datetime) -> LandingResult:
    """See `_land`; on SQLite one landing at a time per process (the database allows one writer)."""
    if connection.vendor == "sqlite" and messages and not connection.in_atomic_block:
        with _SQLITE_WRITER:
            return _land(source, messages, received_at)
    return _land(source, messages, received_at)


@transaction.atomic
def _land(source: Source, messages: Sequence[CleanMessage], received_at: datetime.datetime) -> LandingResult:
    """Insert the batch in one transaction; a retried messageId (or one sent twice in a batch) is
    skipped by the unique constraint, so the caller may answer 200 for it as for a new one.

    Written with the driver rather than `bulk_create`: building model instances and compiling
    the insert cost more than the insert itself (`benchmarks/bench_tracking_ingest.py`). On
    PostgreSQL one `INSERT … SELECT FROM unnest(arrays)` per batch (half the time of the
    multi-row VALUES it replaced, measured in-process on 100-message batches); elsewhere a
    multi-row VALUES per few hundred rows.
    """
    if not messages:
        return LandingResult(stored=0)
    if connection.vendor == "postgresql":
        _land_postgresql(source, messages, received_at)
        transaction.on_commit(_schedule_processing)
        return LandingResult(stored=len(messages))
    ops = connection.ops
    received = ops.adapt_datetimefield_value(received_at)
    with connection.cursor() as cursor:
        for start in range(0, len(messages), INSERT_CHUNK):
            chunk = messages[start : start + INSERT_CHUNK]
            params: list[Any] = []
            for m in chunk:
                params.extend(
                    (
                        source.pk,
                        m.message_id,
                        m.type,
                        m.event,
                        m.user_id,
                        m.anonymous_id,
                        m.payload_json or _dumps(m.payload),
                        received,
                        ops.adapt_datetimefield_value(m.timestamp),
                    )
                )
            cursor.execute(_insert_sql(connection.vendor, len(chunk)), params)
    transaction.on_commit(_schedule_processing)
    return LandingResult(stored=len(messages))


_UNNEST_SQL = _unnest_sql()
