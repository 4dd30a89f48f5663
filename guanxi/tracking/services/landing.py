"""Landing: store valid messages as sent, once per (source, messageId), before answering 200."""

import datetime
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction

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
    meta = LandedEvent._meta
    columns = [f"{name}_id" if name == "source" else name for name in INSERT_FIELDS]  # the model's own columns
    payload = "%s::jsonb" if vendor == "postgresql" else "%s"
    row = "(" + ", ".join(payload if name == "payload" else "%s" for name in INSERT_FIELDS) + ")"
    return (
        f"INSERT INTO {meta.db_table} ({', '.join(columns)}) VALUES "  # noqa: S608  -- names from the model, values are parameters
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


@transaction.atomic
def land_messages(source: Source, messages: Sequence[CleanMessage], received_at: datetime.datetime) -> LandingResult:
    """Insert the batch in one transaction, a few hundred rows per statement; a retried messageId
    is skipped by the unique constraint, so the caller may answer 200 for it as for a new one.

    Written with the driver rather than `bulk_create`: building model instances and compiling
    the insert cost more than the insert itself (`benchmarks/bench_tracking_ingest.py`).
    """
    if not messages:
        return LandingResult(stored=0)
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
                        m.payload_json or json.dumps(m.payload, ensure_ascii=False, separators=(",", ":")),
                        received,
                        ops.adapt_datetimefield_value(m.timestamp),
                    )
                )
            cursor.execute(_insert_sql(connection.vendor, len(chunk)), params)
    transaction.on_commit(_schedule_processing)
    return LandingResult(stored=len(messages))
