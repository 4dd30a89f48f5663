"""`manage.py process_events`: process landed tracking events now, once or continuously."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from guanxi.tracking import services


class Command(BaseCommand):
    help = "Process landed tracking events (identity, profiles, contacts) in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=services.DEFAULT_BATCH_SIZE)
        parser.add_argument("--loop", action="store_true", help="Keep processing, polling every --interval seconds.")
        parser.add_argument("--interval", type=float, default=1.0)
        parser.add_argument(
            "--rebuild-traits",
            action="store_true",
            help="Recompute every profile's computed traits from the processed events, then exit.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rebuild_traits"]:
            rows = services.rebuild_computed_traits()
            if options["verbosity"] > 0:
                self.stdout.write(f"rebuilt the computed traits of {rows} profiles")
            return
        while True:
            result = services.process_landed_events(batch_size=options["batch_size"])
            if options["verbosity"] > 0 and (result["processed"] or not options["loop"]):
                self.stdout.write(
                    f"processed {result['processed']} events in {result['batches']} batches; "
                    f"{result['joined']} pending joins completed"
                )
            if not options["loop"]:
                return
            if not result["processed"]:
                time.sleep(options["interval"])
