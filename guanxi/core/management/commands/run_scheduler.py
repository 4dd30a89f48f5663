"""Queue the periodic jobs on time (`guanxi.core.schedule`): run as a service, or `--once` from cron."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from guanxi.core.schedule import periodic_jobs, queue_due


class Command(BaseCommand):
    help = "Queue every periodic job that is due (pool rules, reminders, nightly analytics…); loops unless --once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="queue what is due now and exit")
        parser.add_argument("--interval", type=float, default=30.0, help="seconds between checks (default 30)")
        parser.add_argument("--list", action="store_true", help="list the periodic jobs and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for job in periodic_jobs():
                self.stdout.write(f"{job.name}: every {job.every}")
            return
        while True:
            for name in queue_due(timezone.now()):
                self.stdout.write(f"queued {name}")
            if options["once"]:
                return
            time.sleep(options["interval"])
