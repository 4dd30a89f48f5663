"""`manage.py analytics run [--step scoring|rules|all]`: run analytics steps now, with a progress bar.

`manage.py analytics summaries [--rebuild]` brings the stored purchase summaries up to date.
"""

import datetime as dt
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guanxi.analytics import services
from guanxi.analytics.models import AnalyticsRun

STEPS = ("scoring", "rules")


class Command(BaseCommand):
    help = (
        "Run analytics steps on demand: 'scoring' (RFM, BG/NBD + Gamma-Gamma CLV, lifecycle stages, the churn "
        "classifier, the 4 I's of engagement and contract customers' health, written to every customer with "
        "purchases or engagement) and 'rules' (association rules and next offers). Runs as the system; each "
        "run is stored with its parameters and quality figures."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["run", "summaries"])
        parser.add_argument(
            "--rebuild", action="store_true", help="summaries: recompute every customer from the orders."
        )
        parser.add_argument("--step", choices=[*STEPS, "all"], default="all")
        parser.add_argument("--end", help="End of observation, ISO date or timestamp (default: now).")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (e.g. in logs).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "summaries":
            report = services.refresh_purchase_summaries(None, rebuild=options["rebuild"])
            how = (
                "rebuilt" if report.rebuilt else f"{report.new_orders:,} new orders, {report.folded:,} customers folded"
            )
            self.stdout.write(
                self.style.SUCCESS(
                    f"Purchase summaries: {how}, {report.recomputed:,} recomputed, {report.customers:,} customers"
                )
            )
            return
        end = None
        if options["end"]:
            try:
                end = dt.datetime.fromisoformat(options["end"])
            except ValueError as exc:
                raise CommandError(f"--end: {exc}") from exc
            if end.tzinfo is None:
                end = end.replace(tzinfo=dt.UTC)
        show = not options["no_progress"] and int(options["verbosity"]) >= 1
        steps = STEPS if options["step"] == "all" else (options["step"],)
        for step in steps:
            progress = self._bar(step) if show else None
            if step == "scoring":
                run = services.run_scoring(None, end=end, seed=options["seed"], progress=progress)
            else:
                run = services.run_rules(None, seed=options["seed"], progress=progress)
            if show:
                self.stdout.write("")
            self._report(run)

    def _bar(self, step: str) -> services.Progress:
        def draw(processed: int, total: int) -> None:
            width = 30
            done = width * processed // total if total else width
            share = processed / total if total else 1.0
            self.stdout.write(
                f"\r{step:<8} [{'#' * done}{'.' * (width - done)}] {share:4.0%} {processed:,}/{total:,}", ending=""
            )
            sys.stdout.flush()

        return draw

    def _report(self, run: AnalyticsRun) -> None:
        line = f"Run #{run.pk} {run.kind}: {run.status}, {run.total:,} customers"
        if run.kind == "scoring" and "churn" in run.quality:
            churn = run.quality["churn"]
            line += f", churn model AUC {churn['auc']:.3f}" if churn.get("fitted") else ", churn model: not enough data"
        if run.kind == "rules":
            line += f", {run.quality.get('rules', 0):,} rules, {run.results.get('offers', 0):,} offers"
        self.stdout.write(self.style.SUCCESS(line))
