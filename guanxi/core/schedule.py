"""Jobs that run on a clock: each app registers its periodic tasks here from `AppConfig.ready`.

`queue_due(now)` queues every job whose interval has passed since it was last queued; the
embedded set-up (`make run`) calls it from a thread beside the in-process worker, production runs
`manage.py run_scheduler` as a service (or `--once` from cron every minute). A job is first due
one interval after the scheduler first sees it, so starting the product does not start every
nightly job at once. Core names no domain: the apps bring their own tasks.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from guanxi.core.models import ScheduleMark


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    task: Any  # a django.tasks Task: its `enqueue(**kwargs)` queues one run
    kwargs: dict[str, Any] = field(default_factory=dict)


_jobs: dict[str, PeriodicJob] = {}


def register_periodic(name: str, every: timedelta, task: Any, **kwargs: Any) -> None:
    """Queue `task` every `every` (e.g. the pool rules daily, task reminders every 5 minutes)."""
    if every <= timedelta(0):
        raise ValueError("a periodic job needs a positive interval")
    _jobs[name] = PeriodicJob(name, every, task, dict(kwargs))


def periodic_jobs() -> list[PeriodicJob]:
    return sorted(_jobs.values(), key=lambda job: job.name)


def _claim(job: PeriodicJob, now: datetime) -> bool:
    """Whether this caller may queue `job` now; a conditional UPDATE, so only one caller wins."""
    try:
        with transaction.atomic():
            _mark, created = ScheduleMark.objects.get_or_create(name=job.name, defaults={"last_queued_at": now})
    except IntegrityError:  # another process created the row between our read and write
        return False
    if created:
        return False  # first seen: due one interval from now
    claimed = ScheduleMark.objects.filter(Q(name=job.name) & Q(last_queued_at__lte=now - job.every)).update(
        last_queued_at=now
    )
    return claimed == 1


def queue_due(now: datetime) -> list[str]:
    """Queue every registered job that is due; returns their names."""
    queued = []
    for job in periodic_jobs():
        if _claim(job, now):
            job.task.enqueue(**job.kwargs)
            queued.append(job.name)
    return queued
