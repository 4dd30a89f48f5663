"""List page and API list latency (p50/p95) on the large demo data set.

For rep1, manager and admin (force-logged-in `django.test.Client`, production settings): the UI
lists `/people/` and `/accounts/` and the API lists `/api/people/` and `/api/accounts/`, plain,
filtered (owner, stage, tag) and searched (two Chinese characters of a name, the last 4 digits of a
phone, part of an e-mail address). Each row: a few warm-up requests, then `--requests` timed ones.
URLs that answer 404 are reported as "missing" (the UI and API may not be there yet).

The data set is generated once per database and reused while its counts match:
SQLite in $GUANXI_BENCH_DIR/large-<accounts>-<people>.sqlite3, PostgreSQL in `guanxi_bench`.

    python benchmarks/bench_list_latency.py --db sqlite
    BENCH_DATABASE_URL=postgres://... python benchmarks/bench_list_latency.py --db postgres
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common

TARGET_P95_MS = 100.0


@dataclass
class Row:
    user: str
    path: str
    variant: str
    params: dict[str, str]
    status: str = ""
    p50: float = 0.0
    p95: float = 0.0
    count: int = 0

    def line(self) -> str:
        if self.status != "ok":
            return f"| {self.user} | {self.path} | {self.variant} | {self.status} | | | |"
        flag = "" if self.p95 < TARGET_P95_MS else " **miss**"
        timing = f"{self.p50:.1f} | {self.p95:.1f}{flag}"
        return f"| {self.user} | {self.path} | {self.variant} | ok | {timing} | {self.count} |"


def _database(db: str, accounts: int, people: int) -> tuple[str, Path | str]:
    if db == "sqlite":
        common.BENCH_DIR.mkdir(parents=True, exist_ok=True)
        path = common.BENCH_DIR / f"large-{accounts}-{people}.sqlite3"
        return common.sqlite_url(path), path
    name = "guanxi_bench" if (accounts, people) == (100_000, 1_000_000) else f"guanxi_bench_{accounts}_{people}"
    common.pg_create_if_missing(name)
    return common.pg_url(name), name


def ensure_data(db: str, accounts: int, people: int) -> dict[str, Any]:
    """Reuse the data set when its counts match, else (re)create it; returns how it was made."""
    url, where = _database(db, accounts, people)
    common.setup_django(url)
    from django.core.management import call_command
    from django.db import connections

    from guanxi.customers.models import Account, Person
    from guanxi.staff.models import User

    marker = common.BENCH_DIR / f"{db}-{accounts}-{people}.json"
    call_command("migrate", verbosity=0)
    complete = (
        User.objects.filter(username="rep1").exists()
        and Account.objects.count() == accounts
        and Person.objects.count() == people
    )
    if complete and marker.exists():
        info: dict[str, Any] = json.loads(marker.read_text())
        info["reused"] = True
        return info
    if Account.objects.exists() or Person.objects.exists() or User.objects.exists():
        print(f"  {where}: incomplete data set, recreating", flush=True)
        connections.close_all()
        if isinstance(where, Path):
            common.remove_sqlite(where)
        else:
            common.pg_recreate(where)
        call_command("migrate", verbosity=0)
    print(f"  generating {accounts:,} accounts and {people:,} people on {db} ...", flush=True)
    started = time.perf_counter()
    call_command("demo_data", size="large", accounts=accounts, people=people, verbosity=1)
    info = {"db": db, "accounts": accounts, "people": people, "generate_s": time.perf_counter() - started}
    info["generated_on"] = time.strftime("%Y-%m-%d %H:%M")
    marker.write_text(json.dumps(info))
    info["reused"] = False
    return info


def _samples(user: Any) -> dict[str, str]:
    """Search strings from a real record the user can see: a Chinese name, a phone, an e-mail."""
    from guanxi.customers.models import EmailAddress, Person, PhoneNumber

    person = (
        Person.objects.filter(owner=user, family_name__regex=r"^[\u4e00-\u9fff]$", given_name__regex=r"^..$")
        .order_by("pk")
        .first()
    )
    if person is None:
        person = Person.objects.filter(family_name__regex=r"^[\u4e00-\u9fff]$").order_by("pk").first()
    assert person is not None
    phone = PhoneNumber.objects.filter(person__owner=user).order_by("pk").first() or PhoneNumber.objects.first()
    email = (
        EmailAddress.objects.filter(person__owner=user, address__regex=r"^[a-z]+\.[a-z]+@").order_by("pk").first()
        or EmailAddress.objects.order_by("pk").first()
    )
    assert phone is not None
    assert email is not None
    return {
        "name": person.full_name[:2],
        "phone": phone.number[-4:],
        "email": email.address.split("@", 1)[0],
    }


def measure(requests: int, warmup: int, users: list[str], only: str) -> list[Row]:
    from django.test import Client

    from guanxi.staff.models import User

    rep1 = User.objects.get(username="rep1")
    samples = _samples(rep1)
    rows: list[Row] = []
    for username in users:
        user = User.objects.get(username=username)
        client = Client(raise_request_exception=False)  # a broken view is a row, not a crash
        client.force_login(user)
        owner = "me" if username == "rep1" else str(rep1.pk)
        variants = [
            ("plain", {}),
            (f"owner={owner}", {"owner": owner}),
            ("stage=active", {"stage": "active"}),
            ("tag=VIP", {"tag": "VIP"}),
            (f"q={samples['name']} (2 chars)", {"q": samples["name"]}),
            (f"q={samples['phone']} (last 4 digits)", {"q": samples["phone"]}),
            (f"q={samples['email']} (e-mail part)", {"q": samples["email"]}),
        ]
        for path in ("/people/", "/accounts/", "/api/people/", "/api/accounts/"):
            for variant, params in variants:
                if only and only not in f"{username} {path} {variant}":
                    continue
                row = Row(username, path, variant, params)
                rows.append(row)
                first = client.get(path, params)
                if first.status_code == 404:
                    row.status = "missing"
                    continue
                if first.status_code != 200:
                    row.status = f"HTTP {first.status_code}"
                    continue
                for _ in range(warmup):
                    client.get(path, params)
                times = []
                failed = 0
                for _ in range(requests):
                    started = time.perf_counter()
                    response = client.get(path, params)
                    times.append((time.perf_counter() - started) * 1000)
                    failed += response.status_code != 200
                row.status = "ok" if not failed else f"{failed} of {requests} failed"
                if failed:
                    continue
                row.p50 = common.median(times)
                row.p95 = common.percentile(times, 0.95)
                row.count = _count(response)
                print("  " + row.line(), flush=True)
    return rows


def _count(response: Any) -> int:
    """Rows on the page: API `results`, or table rows of the UI list."""
    if response.get("Content-Type", "").startswith("application/json"):
        body = json.loads(response.content)
        return len(body.get("results", body if isinstance(body, list) else []))
    return max(0, int(response.content.count(b"<tr")) - 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--users", default="rep1,manager,admin")
    parser.add_argument("--only", default="", help="run only rows whose 'user path variant' contains this")
    parser.add_argument("--generate-only", action="store_true")
    args = parser.parse_args(argv)
    info = ensure_data(args.db, args.accounts, args.people)
    how = "reused" if info["reused"] else "generated now"
    print(
        f"list latency on {args.db}: {args.accounts:,} accounts, {args.people:,} people ({common.machine()}); "
        f"data set {how}, generation took {info['generate_s']:.0f} s on {info.get('generated_on', '?')}",
        flush=True,
    )
    if args.generate_only:
        return 0
    print(f"  {args.requests} requests per row after {args.warmup} warm-up; target p95 < {TARGET_P95_MS:.0f} ms")
    print("  | user | path | variant | status | p50 ms | p95 ms | rows |")
    print("  |---|---|---|---|---|---|---|")
    rows = measure(args.requests, args.warmup, args.users.split(","), args.only)
    for row in rows:
        if row.status != "ok":
            print("  " + row.line())
    misses = [r for r in rows if r.status == "ok" and r.p95 >= TARGET_P95_MS]
    print(f"  {len(misses)} of {sum(r.status == 'ok' for r in rows)} measured rows miss p95 < {TARGET_P95_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
