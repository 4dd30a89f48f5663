"""`manage.py export_records`: write a filtered list of accounts or people to a file.

It exports as the named user, so visibility holds here too: a rep's export holds their own
records and the shared pool, exactly as their list in the web UI would.
"""

from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from guanxi.customers import queries
from guanxi.dataio.models import CUSTOMER_TARGETS, FileFormat, Target
from guanxi.dataio.services import exporting
from guanxi.staff.models import User

EXTENSION_FORMATS = {".csv": FileFormat.CSV, ".xlsx": FileFormat.XLSX, ".vcf": FileFormat.VCARD}


class Command(BaseCommand):
    help = "Export accounts or people, with the list filters, to CSV, XLSX or vCard, as a given user sees them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--target", required=True, choices=[t.value for t in CUSTOMER_TARGETS], help="account or person"
        )
        parser.add_argument("--user", required=True, help="username to export as (their visibility applies)")
        parser.add_argument("--output", required=True, help="file to write")
        parser.add_argument(
            "--format", choices=FileFormat.values, help="csv, xlsx or vcard (default: from the output's extension)"
        )
        parser.add_argument("--q", default="", help="search, as typed into the list's search box")
        parser.add_argument("--owner", default="", help="a user id, `me` or `pool`")
        parser.add_argument("--tag", default="", help="tag name")
        parser.add_argument("--stage", default="", help="lifecycle stage, e.g. prospect")
        parser.add_argument("--market-segment", default="", help="accounts only")
        parser.add_argument("--kind", default="", help="accounts only: account kind")
        parser.add_argument("--account", type=int, help="people only: people with a role at this account id")
        parser.add_argument(
            "--attr", action="append", default=[], metavar="KEY=VALUE", help="custom attribute filter, repeatable"
        )
        parser.add_argument("--ordering", default="", help="sort field, `-` prefix for descending")
        parser.add_argument("--language", default="", help="header language (en or zh-hans; default: the user's)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user called {options['user']!r}.")
        output = Path(options["output"])
        file_format = options["format"] or EXTENSION_FORMATS.get(output.suffix.lower())
        if file_format is None:
            raise CommandError("Give --format, or an output file ending in .csv, .xlsx or .vcf.")
        attributes: dict[str, str] = {}
        for item in options["attr"]:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--attr takes KEY=VALUE, not {item!r}.")
            attributes[key] = value
        spec = exporting.ExportSpec(
            target=options["target"],
            filters=queries.PartyFilters(
                q=options["q"].strip()[:200],
                owner=options["owner"],
                tag=options["tag"],
                stage=options["stage"],
                market_segment=options["market_segment"],
                kind=options["kind"],
                account=options["account"],
                attributes=attributes,
            ),
            ordering=options["ordering"],
            language=options["language"] or user.language or "",
        )

        def progress(written: int) -> bool:
            self.stderr.write(f"{written} rows written", ending="\r")
            return True

        try:
            with output.open("wb") as stream:
                written = exporting.write_export(user, spec, file_format, stream, on_batch=progress)
        except (ValidationError, PermissionDenied) as exc:
            output.unlink(missing_ok=True)
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        self.stderr.write("")
        self.stdout.write(f"Exported {written} {Target(options['target']).label.lower()} to {output}.")
