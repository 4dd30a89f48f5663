"""The background worker run inside the web process by `make run` (the embedded set-up)."""

import logging
import threading

from django.conf import settings
from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)


class InProcessWorker:
    """django-tasks-db's worker on a thread of this process, so one command runs the whole product."""

    def __init__(self) -> None:
        from django_tasks_db.management.commands.db_worker import Worker

        self.worker = Worker(
            queue_names=["*"],
            interval=1.0,
            batch=False,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="in-process",
            excluded_queue_names=[],
        )
        self.thread = threading.Thread(target=self._run, name="guanxi-worker", daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        finally:
            connections.close_all()

    def start(self) -> "InProcessWorker":
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.worker.running = False
        self.thread.join(timeout)


class SchedulerThread:
    """Queues the periodic jobs (`core/schedule.py`) every `interval` seconds, on a thread."""

    def __init__(self, interval: float = 30.0) -> None:
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="guanxi-scheduler", daemon=True)

    def _run(self) -> None:
        from django.utils import timezone

        from guanxi.core.schedule import queue_due

        try:
            while not self.stopped.wait(self.interval):
                try:
                    queue_due(timezone.now())
                except DatabaseError:  # e.g. SQLite busy with a long write: try again next round
                    logger.warning("could not check the periodic jobs", exc_info=True)
        finally:
            connections.close_all()

    def start(self) -> "SchedulerThread":
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopped.set()
        self.thread.join(timeout)


def start_worker_thread() -> InProcessWorker | None:
    if settings.TASKS["default"]["BACKEND"] != "django_tasks_db.DatabaseBackend":
        return None
    return InProcessWorker().start()


def start_scheduler_thread() -> SchedulerThread | None:
    """The scheduler that queues periodic jobs for the in-process worker (`make run` only)."""
    if settings.TASKS["default"]["BACKEND"] != "django_tasks_db.DatabaseBackend":
        return None
    return SchedulerThread().start()
