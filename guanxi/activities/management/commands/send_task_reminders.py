"""`manage.py send_task_reminders`: due task reminders into the in-app list, for cron every few minutes."""

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from guanxi.activities import services


class Command(BaseCommand):
    help = "Turn open tasks whose reminder time has come into in-app reminders (safe to rerun)."

    def handle(self, *args: Any, **options: Any) -> None:
        sent = services.send_task_reminders(timezone.now())
        self.stdout.write(f"sent {sent} reminders")
