"""`manage.py profitability run`: recompute every customer's profitability now, with a progress bar."""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from guanxi.profitability import services


class Command(BaseCommand):
    help = (
        "Compute each customer's revenue, discounts, cost to serve and profit, and CAC and CLV:CAC by "
        "acquisition source and cohort, with the costs in force; runs as the system and stores the run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["run"])
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (e.g. in logs).")

    def handle(self, *args: Any, **options: Any) -> None:
        show = not options["no_progress"] and int(options["verbosity"]) >= 1

        def draw(processed: int, total: int) -> None:
            width = 30
            done = width * processed // total if total else width
            self.stdout.write(f"\r[{'#' * done}{'.' * (width - done)}] {processed:,}/{total:,}", ending="")
            sys.stdout.flush()

        run = services.run_profitability(None, progress=draw if show else None)
        if show:
            self.stdout.write("")
        totals = run.results.get("totals", {})
        self.stdout.write(
            self.style.SUCCESS(
                f"Run #{run.pk}: {run.status}, {run.customers:,} customers, "
                f"{totals.get('loss_customers', 0):,} served at a loss, profit {totals.get('profit', '0')} "
                f"{run.results.get('currency', '')}"
            )
        )
