"""`manage.py import_records FILE --target people|accounts|orders --user USERNAME`: an import from the shell.

The same service calls as the web pages (upload, mapping, run), so the same rules apply; the run
happens in this process, with progress printed per batch and every rejected row listed at the end.
"""

import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from guanxi.dataio.models import DuplicatePolicy, ImportJob, ImportMode, SavedMapping, Target
from guanxi.dataio.services import importing
from guanxi.staff.models import User

TARGETS = {"people": Target.PERSON, "accounts": Target.ACCOUNT, "orders": Target.ORDER}


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{key}: {' '.join(messages)}" for key, messages in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = "Import people, accounts or order lines from a CSV, XLSX or vCard file."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--target", choices=sorted(TARGETS), required=True)
        parser.add_argument("--user", required=True, help="username of the importing staff member")
        parser.add_argument("--mapping", default="", help="name of a saved mapping (default: the suggestion)")
        parser.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
        parser.add_argument("--mode", choices=ImportMode.values, default=ImportMode.ALL_OR_NOTHING)
        parser.add_argument("--on-duplicate", choices=DuplicatePolicy.values, default=DuplicatePolicy.SKIP)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        target = TARGETS[options["target"]]
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user called {options['user']}.")
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        try:
            with path.open("rb") as upload:
                job = importing.start_import(user, upload, path.name, target)
            mapping = job.mapping
            if options["mapping"]:
                saved = SavedMapping.objects.filter(target=target, name=options["mapping"]).first()
                if saved is None:
                    raise CommandError(f"No saved mapping called {options['mapping']}.")
                mapping = {column: saved.mapping.get(column, "") for column in job.columns}
            self.stdout.write(f"{job.original_name}: {job.total} rows, {job.file_format} ({job.encoding or 'binary'})")
            for column in job.columns:
                self.stdout.write(f"  {column} -> {mapping.get(column) or '(ignored)'}")
            job = importing.set_mapping(user, job, mapping, options["mode"], options["on_duplicate"])
        except ValidationError as exc:
            raise CommandError(_messages(exc)) from exc
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        job = self._run(job, dry_run=options["dry_run"])
        self._summary(job)

    def _run(self, job: ImportJob, *, dry_run: bool) -> ImportJob:
        started = time.perf_counter()

        def progress(current: ImportJob) -> None:
            self.stdout.write(
                f"  {current.processed}/{current.total} rows  {time.perf_counter() - started:.1f} s  "
                f"(created {current.created_count}, updated {current.updated_count}, "
                f"skipped {current.skipped_count}, rejected {current.rejected_count})"
            )

        job = importing.run_import(job.pk, dry_run=dry_run, progress=progress)
        self.stdout.write(f"  took {time.perf_counter() - started:.1f} s")
        return job

    def _summary(self, job: ImportJob) -> None:
        verb = "would be" if job.dry_run else "were"
        self.stdout.write(
            f"{job.get_status_display()}: {job.created_count} {verb} created, {job.updated_count} {verb} updated, "
            f"{job.skipped_count} skipped as duplicates, {job.rejected_count} rejected."
        )
        for problem in job.problems.order_by("line", "id"):
            kind = "skipped" if importing.is_skipped(problem) else "rejected"
            column = f" [{problem.column}]" if problem.column else ""
            self.stdout.write(f"  line {problem.line}{column} {kind}: {problem.reason}")
        if job.error:
            raise CommandError(job.error)
