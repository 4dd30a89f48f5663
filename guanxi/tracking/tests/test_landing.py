"""Landing a request as one batch row, and unpacking batches into events."""

import datetime
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.db.models import ProtectedError
from django.utils import timezone

from guanxi.staff.models import User
from guanxi.tracking import queries, services, tasks
from guanxi.tracking.messages import clean_body
from guanxi.tracking.models import ComputedTraits, LandedBatch, LandedEvent, ProcessingCheckpoint, Source
from guanxi.tracking.services import landing, processing
from guanxi.tracking.tests.conftest import key_of
from guanxi.tracking.tests.factories import SourceFactory

T0 = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.UTC)


def _clean(*messages: dict[str, Any], received_at: datetime.datetime = T0) -> Any:
    clean, errors = clean_body({"batch": list(messages)}, endpoint="batch", received_at=received_at)
    assert errors == []
    return clean


def _track(message_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Viewed Product", "anonymousId": "a1", "messageId": message_id, **extra}


def test_a_request_lands_as_one_batch_row_and_unpacks_into_its_events(source: Source) -> None:
    received = T0 + datetime.timedelta(minutes=5)
    messages = _clean(
        _track("m-1", userId=42, properties={"price": 1.5, "名": "茶"}, timestamp="2026-03-01T09:00:00.250+08:00"),
        {"type": "page", "name": "Home", "anonymousId": "a2", "messageId": "m-2"},
        received_at=received,
    )
    result = services.land_for_write_key(key_of(source), messages, received)
    assert result == landing.LandingResult(stored=2)
    (batch,) = LandedBatch.objects.all()
    assert (batch.source_id, batch.received_at, batch.message_count) == (source.pk, received, 2)
    assert not LandedEvent.objects.exists()

    assert services.unpack_batches(100) == 1

    assert not LandedBatch.objects.exists()
    first, second = LandedEvent.objects.order_by("id")
    assert (first.message_id, first.type, first.event, first.user_id, first.anonymous_id) == (
        "m-1",
        "track",
        "Viewed Product",
        "42",
        "a1",
    )
    assert first.timestamp == datetime.datetime(2026, 3, 1, 1, 0, 0, 250000, tzinfo=datetime.UTC)
    assert first.received_at == received
    assert first.payload == messages[0].payload
    assert first.payload["properties"] == {"price": 1.5, "名": "茶"}
    assert (second.message_id, second.type, second.event, second.timestamp) == ("m-2", "page", "Home", received)


def test_a_timestamp_whose_offset_has_seconds_is_stored_exactly(source: Source) -> None:
    """orjson writes an offset as hours and minutes: such a time must reach the events whole."""
    messages = _clean(_track("m-1", timestamp="2026-03-01T09:00:00.5+05:30:15"))
    services.land_messages(source, messages, T0)
    services.unpack_batches(100)
    assert LandedEvent.objects.get().timestamp == datetime.datetime(2026, 3, 1, 3, 29, 45, 500000, tzinfo=datetime.UTC)


def test_the_first_copy_of_a_message_id_is_kept_across_batches(source: Source) -> None:
    services.land_messages(source, _clean(_track("m-1", properties={"copy": 1})), T0)
    services.land_messages(source, _clean(_track("m-2"), _track("m-1", properties={"copy": 2})), T0)
    services.land_messages(source, _clean(_track("m-1", properties={"copy": 3})), T0)
    assert services.unpack_batches(100) == 3
    assert list(LandedEvent.objects.order_by("id").values_list("message_id", flat=True)) == ["m-1", "m-2"]
    assert LandedEvent.objects.get(message_id="m-1").payload["properties"] == {"copy": 1}


def test_unpacking_takes_about_the_limit_and_at_least_one_batch(source: Source) -> None:
    for n in range(3):
        services.land_messages(source, _clean(*[_track(f"m-{n}-{i}") for i in range(4)]), T0)
    assert services.unpack_batches(5) == 1  # a second batch would pass the limit
    assert LandedEvent.objects.count() == 4
    assert services.unpack_batches(2) == 1  # one batch even when it alone passes the limit
    assert services.unpack_batches(8) == 1
    assert services.unpack_batches(8) == 0
    assert LandedEvent.objects.count() == 12
    # Event ids follow the landing order.
    assert list(LandedEvent.objects.order_by("id").values_list("message_id", flat=True)) == [
        f"m-{n}-{i}" for n in range(3) for i in range(4)
    ]


def test_a_revoked_or_unknown_key_lands_nothing(source: Source, admin_user: User) -> None:
    messages = _clean(_track("m-1"))
    assert services.land_for_write_key("not-a-key", messages, T0) is None
    assert services.land_for_write_key("", messages, T0) is None
    services.revoke_source(admin_user, source)
    assert services.land_for_write_key(key_of(source), messages, T0) is None
    assert services.land_for_write_key(key_of(source), [], T0) is None
    assert not LandedBatch.objects.exists()
    other = SourceFactory.create(name="App")
    assert services.land_for_write_key(key_of(other), [], T0) == landing.LandingResult(stored=0)
    assert services.land_for_write_key(key_of(other), messages, T0) == landing.LandingResult(stored=1)
    assert list(LandedBatch.objects.values_list("source_id", flat=True)) == [other.pk]


def test_processing_unpacks_every_batch_and_processes_it_in_batches(source: Source) -> None:
    for n in range(7):
        services.land_messages(source, _clean(*[_track(f"m-{n}-{i}", anonymousId=f"a-{n}") for i in range(3)]), T0)
    result = services.process_landed_events(batch_size=4)
    assert result["processed"] == 21
    assert not LandedBatch.objects.exists()
    assert processing.processed_up_to() == LandedEvent.objects.order_by("-id").values_list("id", flat=True)[0]
    assert queries.processing_lag().backlog == 0


def test_the_lag_counts_messages_still_in_batches(source: Source) -> None:
    other = SourceFactory.create(name="App")
    earlier = timezone.now() - datetime.timedelta(minutes=3)
    services.land_messages(source, _clean(_track("m-1"), _track("m-2")), earlier)
    services.land_messages(other, _clean(_track("m-3")), timezone.now())
    lag = queries.processing_lag()
    assert (lag.backlog, lag.oldest_received_at) == (3, earlier)
    assert queries.processing_lag(other).backlog == 1
    services.unpack_batches(2)  # the first batch is now two unprocessed events
    lag = queries.processing_lag()
    assert (lag.backlog, lag.oldest_received_at) == (3, earlier)
    services.process_landed_events()
    assert queries.processing_lag().backlog == 0
    assert queries.processing_lag().oldest_received_at is None


@pytest.mark.django_db(transaction=True)
def test_an_unpacking_that_fails_leaves_the_batches_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    source = SourceFactory.create(name="Web shop")
    services.land_messages(source, _clean(_track("m-1"), _track("m-2")), T0)

    class BrokenError(Exception):
        pass

    def unpack_then_fail(limit: int) -> int:
        assert landing.unpack_batches(limit) == 1
        assert LandedEvent.objects.count() == 2  # written, not committed
        raise BrokenError

    monkeypatch.setattr(processing, "unpack_batches", unpack_then_fail)
    with pytest.raises(BrokenError):
        services.process_landed_events()
    monkeypatch.undo()
    assert LandedBatch.objects.get().message_count == 2
    assert not LandedEvent.objects.exists()
    assert services.process_landed_events()["processed"] == 2
    assert LandedEvent.objects.count() == 2


@pytest.mark.django_db
def test_batches_are_compressed_with_lz4_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL column setting")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'messages'",
            [LandedBatch._meta.db_table],
        )
        assert cursor.fetchone() == ("l",)


def _backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@pytest.mark.django_db(transaction=True)
def test_the_next_chunk_is_unpacked_while_a_batch_is_processed(monkeypatch: pytest.MonkeyPatch) -> None:
    source = SourceFactory.create(name="Web shop")
    for n in range(6):
        services.land_messages(source, _clean(*[_track(f"m-{n}-{i}", anonymousId=f"a-{n}") for i in range(3)]), T0)
    unpacked_by: list[tuple[str, int]] = []
    unpack = landing.unpack_batches

    def recorded(limit: int) -> int:
        taken = unpack(limit)
        unpacked_by.append((threading.current_thread().name, taken))
        return taken

    monkeypatch.setattr(processing, "unpack_batches", recorded)
    backends = _backends() if connection.vendor == "postgresql" else 0
    result = services.process_landed_events(batch_size=6)
    assert (result["processed"], result["batches"]) == (18, 3)
    # Every event processed exactly once, in order, the watermark at the last.
    checkpoint = ProcessingCheckpoint.objects.get(name="default")
    assert checkpoint.events_processed == 18
    assert checkpoint.last_event_id == LandedEvent.objects.order_by("-id").values_list("id", flat=True)[0]
    assert sorted(ComputedTraits.objects.values_list("event_count", flat=True)) == [3] * 6
    assert not LandedBatch.objects.exists()
    threads = {name.split("_")[0] for name, _taken in unpacked_by}
    if connection.vendor == "postgresql":
        # The fourth chunk, empty, was asked for while the third batch ran, and one more
        # while the empty last batch ran.
        assert [taken for _name, taken in unpacked_by] == [2, 2, 2, 0, 0]
        assert threads == {"tracking-unpack"}
        # The unpacking thread's connection is closed when processing returns.
        deadline = time.monotonic() + 5
        while _backends() > backends and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _backends() == backends
    else:
        assert [taken for _name, taken in unpacked_by] == [2, 2, 2, 0]
        assert threads == {"MainThread"}


def test_a_source_with_events_cannot_be_deleted(source: Source) -> None:
    services.land_messages(source, _clean(_track("m-1")), T0)
    services.unpack_batches(10)
    # Checked by Django (PROTECT): the events' column has no database constraint.
    with pytest.raises(ProtectedError):
        source.delete()
    assert LandedEvent.objects.filter(source=source).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_landing_during_the_last_batch_is_processed_in_the_same_run(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("unpacking runs ahead of processing on PostgreSQL only")
    settings.TRACKING_PROCESS_ON_LANDING = False  # the test settings would process it at once
    source = SourceFactory.create(name="Web shop")
    services.land_messages(source, _clean(*[_track(f"m-a-{i}", anonymousId="a") for i in range(3)]), T0)
    unpack_ahead = processing._unpack_ahead
    calls: list[int] = []

    def landing_before_the_third(batch_size: int) -> int:
        calls.append(batch_size)
        if len(calls) == 3:  # asked for while the (empty) second batch runs: the backlog is done
            services.land_messages(source, _clean(*[_track(f"m-b-{i}", anonymousId="b") for i in range(3)]), T0)
        return unpack_ahead(batch_size)

    monkeypatch.setattr(processing, "_unpack_ahead", landing_before_the_third)
    assert services.process_landed_events(batch_size=10)["processed"] == 6
    assert not LandedBatch.objects.exists()
    assert not LandedEvent.objects.filter(processing.pending_filter()).exists()


class _RecordedTask:
    """Stands in for `tasks.process_events` on a backend that can defer, as the database one can."""

    def __init__(self) -> None:
        self.queued: list[datetime.datetime | None] = []

    def get_backend(self) -> Any:
        return type("Backend", (), {"supports_defer": True})()

    def using(self, *, run_after: datetime.datetime) -> Any:
        return type("Deferred", (), {"enqueue": lambda _self: self.queued.append(run_after)})()

    def enqueue(self) -> None:
        self.queued.append(None)


def test_processing_is_queued_at_most_once_a_second_and_after_the_last_landing(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.TRACKING_PROCESS_ON_LANDING = True
    task = _RecordedTask()
    monkeypatch.setattr(tasks, "process_events", task)
    wall = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.UTC)
    monkeypatch.setattr(landing, "timezone", SimpleNamespace(now=lambda: wall))
    queued_at: list[float] = []
    for instant in (100.0, 100.3, 100.5, 101.2, 105.0):
        monkeypatch.setattr(landing, "time", SimpleNamespace(monotonic=lambda instant=instant: instant))
        before = len(task.queued)
        landing._schedule_processing()
        queued_at.extend([instant] * (len(task.queued) - before))
    # 100.0 runs at once; 100.3 lands after that run began, so one more is deferred to 101.0,
    # which 100.5 waits for too; 101.2 lands after it, so one at 102.0; 105.0 runs at once.
    assert queued_at == [100.0, 100.3, 101.2, 105.0]
    assert task.queued == [
        None,
        wall + datetime.timedelta(seconds=0.7),
        wall + datetime.timedelta(seconds=0.8),
        None,
    ]
