"""Check or rebuild the board's and forecast's running sums (`guanxi.sales.rollups`)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guanxi.sales import rollups


class Command(BaseCommand):
    help = "Check the sales board's running sums against the deals, or rebuild them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="recompute every sum from the deals")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rebuild"]:
            rows = rollups.rebuild()
            self.stdout.write(f"rebuilt: {rows} rows")
            return
        wrong = rollups.drift()
        if wrong:
            for key in wrong[:20]:
                self.stderr.write(f"differs: {key}")
            raise CommandError(f"{len(wrong)} sums differ from the deals; run with --rebuild")
        self.stdout.write("all sums match the deals")
