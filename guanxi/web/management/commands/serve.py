"""`make run`: migrate, load demo data on first start, run the worker and the web server."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from guanxi.core.worker import start_scheduler_thread, start_worker_thread
from guanxi.web.demo import load_app_demos

DEMO_PASSWORD = "guanxi-demo"  # noqa: S105  -- the published demo login, printed at start-up


class Command(BaseCommand):
    help = "Run Guanxi: migrate, load demo data on first start, start the worker and serve HTTP."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-demo", action="store_true", help="Do not load demo data on first start.")
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args: Any, **options: Any) -> None:
        from waitress import serve

        from guanxi.wsgi import application

        call_command("migrate", interactive=False, verbosity=0)
        first_start = not get_user_model().objects.exists()
        if first_start and not options["no_demo"]:
            self.stdout.write("First start: loading demo data (size small)…")
            call_command("demo_data", size="small", password=DEMO_PASSWORD, verbosity=0)
            load_app_demos("small", report=lambda app: self.stdout.write(f"  {app} ✓"))
        connection.close()
        start_worker_thread()
        start_scheduler_thread()
        url = f"http://{options['host']}:{options['port']}"
        database = settings.DATABASES["default"]
        where = database["NAME"] if database["ENGINE"].endswith("sqlite3") else f"{database['HOST']}/{database['NAME']}"
        self.stdout.write(
            self.style.SUCCESS(f"\nGuanxi is running at {url}/\n")
            + f"  database: {where}\n"
            + f"  demo login: admin / {DEMO_PASSWORD}  (also manager, rep1, rep2, agent, marketer, analyst)\n"
            + f"  API docs: {url}/api/docs\n"
            + "  stop with Ctrl-C\n"
        )
        serve(application, host=options["host"], port=options["port"], threads=options["threads"], ident="guanxi")
