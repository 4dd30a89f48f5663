import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from guanxi.core import schedule
from guanxi.core.models import ScheduleMark
from guanxi.core.worker import SchedulerThread

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class RecordingTask:
    """Stands where a django.tasks Task stands: records each `enqueue`."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def enqueue(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


@pytest.fixture
def only_our_jobs() -> Iterator[None]:
    saved = dict(schedule._jobs)
    schedule._jobs.clear()
    yield
    schedule._jobs.clear()
    schedule._jobs.update(saved)


def test_a_job_is_due_one_interval_after_it_is_first_seen_and_then_once_per_interval(only_our_jobs: None) -> None:
    task = RecordingTask()
    schedule.register_periodic("test.nightly", timedelta(days=1), task, size="small")
    assert schedule.queue_due(NOON) == []  # first seen: not at start-up
    assert schedule.queue_due(NOON + timedelta(hours=23)) == []
    assert schedule.queue_due(NOON + timedelta(days=1)) == ["test.nightly"]
    assert schedule.queue_due(NOON + timedelta(days=1, minutes=1)) == []  # the same window queues once
    assert schedule.queue_due(NOON + timedelta(days=2, minutes=1)) == ["test.nightly"]
    assert task.calls == [{"size": "small"}, {"size": "small"}]
    assert ScheduleMark.objects.get(name="test.nightly").last_queued_at == NOON + timedelta(days=2, minutes=1)


def test_two_schedulers_queue_a_due_job_once(only_our_jobs: None) -> None:
    task = RecordingTask()
    schedule.register_periodic("test.often", timedelta(minutes=5), task)
    schedule.queue_due(NOON)
    later = NOON + timedelta(minutes=5)
    first, second = schedule.queue_due(later), schedule.queue_due(later)
    assert (first, second) == (["test.often"], [])
    assert len(task.calls) == 1


def test_intervals_must_be_positive(only_our_jobs: None) -> None:
    with pytest.raises(ValueError, match="positive"):
        schedule.register_periodic("test.never", timedelta(0), RecordingTask())


def test_the_apps_register_their_periodic_jobs() -> None:
    names = {job.name: job.every for job in schedule.periodic_jobs()}
    assert names["activities.apply_pool_rules"] == timedelta(days=1)
    assert names["activities.send_task_reminders"] == timedelta(minutes=5)
    assert names["tracking.process_events"] == timedelta(minutes=1)
    assert {"analytics.run_scoring", "analytics.run_rules", "profitability.run"} <= set(names)


def test_run_scheduler_once_queues_what_is_due(only_our_jobs: None) -> None:
    task = RecordingTask()
    schedule.register_periodic("test.minutely", timedelta(minutes=1), task)
    ScheduleMark.objects.create(name="test.minutely", last_queued_at=NOON)
    out = StringIO()
    call_command("run_scheduler", "--once", stdout=out)
    assert out.getvalue() == "queued test.minutely\n"
    assert task.calls == [{}]
    listing = StringIO()
    call_command("run_scheduler", "--list", stdout=listing)
    assert listing.getvalue() == "test.minutely: every 0:01:00\n"


@pytest.mark.django_db(transaction=True)  # the thread has its own connection: it sees committed rows only
def test_the_scheduler_thread_queues_due_jobs_and_outlives_a_database_error(
    only_our_jobs: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    task = RecordingTask()
    schedule.register_periodic("test.minutely", timedelta(minutes=1), task)
    ScheduleMark.objects.create(name="test.minutely", last_queued_at=timezone.now() - timedelta(minutes=2))
    checks: list[datetime] = []
    real_queue_due = schedule.queue_due

    def locked_once(now: datetime) -> list[str]:
        checks.append(now)
        if len(checks) == 1:
            raise OperationalError("database is locked")
        return real_queue_due(now)

    monkeypatch.setattr(schedule, "queue_due", locked_once)
    caplog.set_level(logging.WARNING, logger="guanxi.core.worker")
    scheduler = SchedulerThread(interval=0.02).start()
    try:
        deadline = time.monotonic() + 10
        while not task.calls and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        scheduler.stop()
    assert not scheduler.thread.is_alive()
    assert task.calls == [{}]  # queued once, on the round after the failed one
    assert len(checks) >= 2
    assert [r.getMessage() for r in caplog.records] == ["could not check the periodic jobs"]
