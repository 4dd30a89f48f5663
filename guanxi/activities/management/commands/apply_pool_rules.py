"""`manage.py apply_pool_rules`: the shared pool's reclaim rules, for cron or a scheduler."""

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from guanxi.activities import services


class Command(BaseCommand):
    help = "Return neglected customers to the shared pool per each team's rules and warn their owners."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", help="Apply the rules as of this ISO time (default: now).")

    def handle(self, *args: Any, **options: Any) -> None:
        now: datetime = timezone.now()
        if options.get("now"):
            parsed = parse_datetime(options["now"])
            if parsed is None:
                self.stderr.write("--now must be an ISO date and time")
                raise SystemExit(2)
            now = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        result = services.run_pool_rules(now)
        services.send_task_reminders(now)
        self.stdout.write("reclaimed {accounts} accounts and {people} people; warned {warned} owners".format(**result))
