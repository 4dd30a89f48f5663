"""`manage.py find_duplicates`: the whole-database duplicate search, e.g. nightly from cron.

Each target's run is a `DuplicateSearch` row (the duplicates page shows it) and replaces that
target's `DuplicateCandidate` rows in one transaction when it ends.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from guanxi.dataio import duplicates
from guanxi.dataio.models import Target


class Command(BaseCommand):
    help = "Find likely duplicate people and accounts across the database and store them for the duplicates page."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--target", choices=["person", "account", "all"], default="all")
        parser.add_argument("--quiet-progress", action="store_true", help="print only the summary")

    def handle(self, *args: Any, **options: Any) -> None:
        targets = [Target.PERSON, Target.ACCOUNT] if options["target"] == "all" else [options["target"]]
        progress = None if options["quiet_progress"] else (lambda text: self.stderr.write(text))
        for target in targets:
            report = duplicates.find_and_store(str(target), progress)
            self.stdout.write(
                f"{target}: {len(report.pairs)} likely duplicate pairs from {report.compared} candidate pairs "
                f"({report.records} records) in {report.seconds:.1f} s"
            )
