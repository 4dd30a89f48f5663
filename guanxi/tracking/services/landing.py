"""Landing: store a request's valid messages in one row before answering 200; unpack them into
events, once per (source, messageId), when processing takes them.

Acknowledging is the hot path (every event passes through it once, on the request's time), so
it writes one `LandedBatch` row per request: its messages as one JSON array text, with no
per-message index to keep. Unpacking (`unpack_batches`) turns batches into `LandedEvent` rows
set-based in the database and deletes them in the same transaction, so a crash leaves each
message either still in its batch or already an event, never both and never neither.
"""

import datetime
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min, Sum
from django.utils import timezone

from guanxi.core.db import server_binding_cursor
from guanxi.tracking.messages import CleanMessage
from guanxi.tracking.models import LandedBatch, LandedEvent, Source
from guanxi.tracking.services.bulk_sql import datetime_preparer
from guanxi.tracking.services.sources import authenticate_write_key, hash_write_key

# At most one processing run is queued per process per this many seconds: a run drains the
# whole backlog, so queueing one per request would only add rows to the task table.
SCHEDULE_INTERVAL_SECONDS = 1.0
# When the latest run this process queued starts (`time.monotonic()`), and who may change it.
_next_run = float("-inf")
_schedule_lock = threading.Lock()


@dataclass(frozen=True)
class LandingResult:
    stored: int


def _schedule_processing() -> None:
    """Queue a processing run that starts at or after this landing, at most one a second.

    A run already queued to start at or after now takes this landing's batch, so nothing more
    is queued. Otherwise the next run starts now, or a second after the last one if that was
    less than a second ago: deferred to then, so the last batches of a burst are processed
    within the second, not at the periodic run a minute later (they waited for it before)."""
    global _next_run  # a per-process schedule, nothing else shares it
    if not getattr(settings, "TRACKING_PROCESS_ON_LANDING", True):
        return
    with _schedule_lock:
        now = time.monotonic()
        if _next_run >= now:
            return
        _next_run = max(now, _next_run + SCHEDULE_INTERVAL_SECONDS)
        delay = _next_run - now
    from guanxi.tracking.tasks import process_events  # the task module imports these services

    if delay > 0 and process_events.get_backend().supports_defer:
        process_events.using(run_after=timezone.now() + datetime.timedelta(seconds=delay)).enqueue()
    else:
        process_events.enqueue()


def reset_schedule_clock() -> None:
    """Tests call this so each starts with processing schedulable."""
    global _next_run
    _next_run = float("-inf")


def _batch_json(messages: Sequence[CleanMessage]) -> str:
    """The messages as `LandedBatch.messages`, in one serialisation: each payload's JSON, made
    once while the message was checked, goes in as it is (`orjson.Fragment`), and each timestamp
    as the events table stores it (`bulk_sql.datetime_preparer`), so unpacking converts nothing
    in Python."""
    stamp = datetime_preparer()
    return orjson.dumps(
        [
            (
                m.message_id,
                m.type,
                m.event,
                m.user_id,
                m.anonymous_id,
                stamp(m.timestamp),
                orjson.Fragment(m.payload_json) if m.payload_json else m.payload,
            )
            for m in messages
        ]
    ).decode()


_TABLE = LandedBatch._meta.db_table
_SOURCE_TABLE = Source._meta.db_table
_LAND_SQL = (
    f"INSERT INTO {_TABLE} (source_id, received_at, message_count, messages) "  # noqa: S608  -- names from the model, values are parameters
    "VALUES (%s, %s, %s, %s) RETURNING source_id"
)
# The batch lands only if the key belongs to an active source: authenticating and landing are
# one statement, so a key revoked before it runs is refused and none after it commits.
_LAND_FOR_KEY_SQL = (
    f"INSERT INTO {_TABLE} (source_id, received_at, message_count, messages) "  # noqa: S608  -- names from the models, values are parameters
    f"SELECT id, %s, %s, %s FROM {_SOURCE_TABLE} WHERE write_key_hash = %s AND revoked_at IS NULL "
    "RETURNING source_id"
)


# SQLite has one writer at a time, and a waiting writer polls with sleeps of up to 100 ms; the
# server's threads queue here instead, each taking the database's write lock when it is free.
_SQLITE_WRITER = threading.Lock()


def _insert_batch(sql: str, params: Sequence[Any]) -> bool:
    """Run one of the landing INSERTs in its own transaction; whether it stored a row. On
    PostgreSQL, out of any atomic block, in autocommit: one statement is its own transaction,
    committed (and durable) when it returns, so the request makes one round trip instead of
    three (BEGIN, INSERT, COMMIT); on SQLite one landing at a time per process."""
    if connection.vendor == "postgresql" and connection.get_autocommit():
        landed = _execute_insert(sql, params)
    elif connection.vendor == "sqlite" and not connection.in_atomic_block:
        with _SQLITE_WRITER, transaction.atomic():
            landed = _execute_insert(sql, params)
    else:
        with transaction.atomic():
            landed = _execute_insert(sql, params)
    if landed:
        # Committed by now, or else inside the caller's transaction: then at its commit.
        transaction.on_commit(_schedule_processing)
    return landed


def _execute_insert(sql: str, params: Sequence[Any]) -> bool:
    """The INSERT … RETURNING; whether it stored a row. On PostgreSQL bound on the server: the
    batch's text is one parameter, sent as it is."""
    if connection.vendor == "postgresql":
        with server_binding_cursor() as cursor:
            return cursor.execute(sql, params).fetchone() is not None
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def _received(received_at: datetime.datetime) -> Any:
    return received_at if connection.vendor == "postgresql" else datetime_preparer()(received_at)


def land_messages(source: Source, messages: Sequence[CleanMessage], received_at: datetime.datetime) -> LandingResult:
    """Store the messages as one batch of `source`, in one transaction (see `LandedBatch`)."""
    if messages:
        _insert_batch(_LAND_SQL, [source.pk, _received(received_at), len(messages), _batch_json(messages)])
    return LandingResult(stored=len(messages))


def land_for_write_key(
    key: str, messages: Sequence[CleanMessage], received_at: datetime.datetime
) -> LandingResult | None:
    """Store the messages as one batch of the active source `key` belongs to; None (nothing
    stored) when the key is unknown or revoked. The ingestion endpoints call this: the key's
    check and the INSERT are one statement and one round trip (an ORM look-up of the source
    first cost the request about as much as checking its hundred messages)."""
    if not key or len(key) > 200:
        return None
    if not messages:
        return LandingResult(stored=0) if authenticate_write_key(key) is not None else None
    params = [_received(received_at), len(messages), _batch_json(messages), hash_write_key(key)]
    return LandingResult(stored=len(messages)) if _insert_batch(_LAND_FOR_KEY_SQL, params) else None


# ---------------------------------------------------------------------------------------------
# Unpacking batches into events

_EVENT_COLUMNS = "source_id, message_id, type, event, user_id, anonymous_id, payload, received_at, timestamp"
_EVENTS = LandedEvent._meta.db_table
# The batches' messages in landing order (batch id, then place in the batch), so event ids keep
# that order and the first of two copies of a message id is the one kept. (Skipping stored ids
# with `DISTINCT ON` and `NOT EXISTS` instead of `ON CONFLICT` measured no faster at 5,000
# events a statement.)
_UNPACK_POSTGRESQL = (
    f"WITH taken AS (DELETE FROM {_TABLE} WHERE id = ANY(%s) "  # noqa: S608  -- names from the models, values are parameters
    "RETURNING id, source_id, received_at, messages) "
    f"INSERT INTO {_EVENTS} ({_EVENT_COLUMNS}) "
    "SELECT t.source_id, m ->> 0, m ->> 1, m ->> 2, m ->> 3, m ->> 4, m -> 6, t.received_at, (m ->> 5)::timestamptz "
    "FROM taken AS t CROSS JOIN LATERAL jsonb_array_elements(t.messages::jsonb) WITH ORDINALITY AS x (m, n) "
    "ORDER BY t.id, x.n ON CONFLICT DO NOTHING"
)
_UNPACK_SQLITE = (
    f"INSERT INTO {_EVENTS} ({_EVENT_COLUMNS}) "  # noqa: S608  -- names from the models, values are parameters
    "SELECT b.source_id, json_extract(m.value, '$[0]'), json_extract(m.value, '$[1]'), "
    "json_extract(m.value, '$[2]'), json_extract(m.value, '$[3]'), json_extract(m.value, '$[4]'), "
    "json_extract(m.value, '$[6]'), b.received_at, json_extract(m.value, '$[5]') "
    f"FROM {_TABLE} AS b, json_each(b.messages) AS m WHERE b.id IN (SELECT value FROM json_each(%s)) "
    "ORDER BY b.id, m.key ON CONFLICT DO NOTHING"
)


def unpack_batches(limit: int) -> int:
    """Turn the oldest landed batches, about `limit` messages' worth (at least one batch), into
    events, in the caller's transaction; returns the number of batches taken.

    Only batches committed when this runs are seen, and each is deleted as it is unpacked, so
    there is no watermark to keep here: a batch committed later is taken next time. Callers
    hold the processing lock (`processing._unpack`), so event ids are drawn by one writer at a
    time."""
    taken: list[int] = []
    total = 0
    for pk, count in LandedBatch.objects.order_by("id").values_list("id", "message_count")[: max(limit, 1)]:
        if taken and total + count > limit:
            break
        taken.append(pk)
        total += count
    if not taken:
        return 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_UNPACK_POSTGRESQL, [taken])
        else:
            cursor.execute(_UNPACK_SQLITE, [orjson.dumps(taken).decode()])
            LandedBatch.objects.filter(id__in=taken).delete()
    return len(taken)


def pending_messages(source: Source | None = None) -> tuple[int, datetime.datetime | None]:
    """Messages landed and not unpacked yet, and when the oldest of them arrived."""
    batches = LandedBatch.objects.all() if source is None else LandedBatch.objects.filter(source=source)
    found = batches.aggregate(count=Sum("message_count"), oldest=Min("received_at"))
    return int(found["count"] or 0), found["oldest"]
