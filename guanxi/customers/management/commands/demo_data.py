"""`manage.py demo_data`: realistic English and Chinese demo customers, loaded in bulk."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from guanxi.customers.demo import DEMO_PASSWORD, SIZES, load_demo_data
from guanxi.customers.models import Account, Person


class Command(BaseCommand):
    help = (
        "Load demo data: staff (admin, manager, rep1, rep2, agent, marketer, analyst, ... all with the same "
        "password), teams, tags, custom attributes, and accounts and people in English and Chinese with "
        "contacts, roles, relationships, consent, lifecycle stages and search keys. --size small: 300 accounts, "
        "3,000 people; --size large: 100,000 accounts, 1,000,000 people. Rows are bulk-inserted, so no field "
        "history (ChangeRecord) is written for them. Refuses to run when customer records exist unless --force, "
        "which adds more; it never deletes anything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", choices=sorted(SIZES), default="small")
        parser.add_argument("--password", default=DEMO_PASSWORD, help="Password of the demo staff it creates.")
        parser.add_argument("--seed", type=int, default=1, help="Same seed, same data (default 1).")
        parser.add_argument("--force", action="store_true", help="Add demo data even if customer records exist.")
        parser.add_argument("--accounts", type=int, help="Override the number of accounts of --size.")
        parser.add_argument("--people", type=int, help="Override the number of people of --size.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Database alias (default: default).")

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        size = SIZES[options["size"]]
        accounts = size.accounts if options["accounts"] is None else options["accounts"]
        people = size.people if options["people"] is None else options["people"]
        if accounts < 0 or people < 0:
            raise CommandError("--accounts and --people must not be negative.")
        if not options["force"] and (Account.objects.using(using).exists() or Person.objects.using(using).exists()):
            raise CommandError(
                "Customer records exist already. demo_data adds to them only with --force; it never deletes."
            )
        verbosity = int(options["verbosity"])
        if verbosity >= 1:
            self.stdout.write(f"Loading demo data: {accounts:,} accounts, {people:,} people (seed {options['seed']})")

        def progress(line: str) -> None:
            self.stdout.write("  " + line)

        report = load_demo_data(
            accounts=accounts,
            people=people,
            size=size,
            password=options["password"],
            seed=options["seed"],
            using=using,
            progress=progress if verbosity >= 1 else None,
        )
        if verbosity >= 1:
            if report.created_users:
                self.stdout.write(f"  staff created: {', '.join(report.created_users)}")
            if verbosity >= 2:
                for table, count in sorted(report.by_table.items()):
                    self.stdout.write(f"    {table}: {count:,}")
            self.stdout.write(
                self.style.SUCCESS(
                    f"Loaded {report.accounts:,} accounts and {report.people:,} people ({report.rows:,} rows) in "
                    f"{report.seconds:.1f} s: {report.rows / max(report.seconds, 1e-9):,.0f} rows/s"
                )
            )
