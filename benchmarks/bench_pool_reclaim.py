"""The shared pool's reclaim job over a million customers: `customers.pool.reclaim_neglected`.

Builds `--people` people (default 1,000,000) owned by 250 reps in two teams (the first with rules
N = 30 days without follow-up, M = 180 without a won deal; the second without rules), with
spread-out created / owned / follow-up / won dates and 2 % locked, in one `INSERT … SELECT` per
database. Then, in the same process:

- baseline: one plain `UPDATE … SET owner_id = NULL` of exactly the rows the rules select (rolled
  back), i.e. the cheapest possible way to move those rows, with no history;
- reclaim: `reclaim_neglected(now)` (on PostgreSQL one `UPDATE … RETURNING` feeding the history
  `INSERT` per rule, after a `VACUUM` of the baseline's dead rows; on SQLite history
  `INSERT … SELECT` + `UPDATE` per rule), committed.

It prints the rows moved, both times and their ratio; the target is under 60 s.

    python benchmarks/bench_pool_reclaim.py --db sqlite
    BENCH_DATABASE_URL=postgres://guanxi:guanxi@127.0.0.1:5432/guanxi \
        python benchmarks/bench_pool_reclaim.py --db postgres
"""

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common

TARGET_SECONDS = 60.0
REPS_WITH_RULES = 200
REPS_WITHOUT_RULES = 50


def _database(db: str, people: int) -> str:
    if db == "sqlite":
        common.BENCH_DIR.mkdir(parents=True, exist_ok=True)
        path = common.BENCH_DIR / f"pool-{people}.sqlite3"
        common.remove_sqlite(path)
        return common.sqlite_url(path)
    name = "guanxi_bench_pool"
    common.pg_recreate(name)
    return common.pg_url(name)


def _staff(now: datetime) -> tuple[int, list[int]]:
    from guanxi.staff.models import StaffRole, Team, User

    ruled = Team.objects.create(
        name="Ruled",
        reclaim_after_days_without_follow_up=30,
        reclaim_after_days_without_win=180,
        reclaim_warning_days=3,
    )
    free = Team.objects.create(name="Free")
    users = [
        User(username=f"rep{n}", role=StaffRole.SALES_REP, team=ruled if n < REPS_WITH_RULES else free)
        for n in range(REPS_WITH_RULES + REPS_WITHOUT_RULES)
    ]
    User.objects.bulk_create(users)
    ids = list(User.objects.order_by("pk").values_list("pk", flat=True))
    return ruled.pk, ids


def _generate(people: int, rep_ids: list[int], now: datetime) -> None:
    """One INSERT … SELECT over a generated series: every NOT NULL column gets its model default."""
    from django.db import connection

    from guanxi.customers.models import Person

    first, count = rep_ids[0], len(rep_ids)
    assert rep_ids == list(range(first, first + count)), "rep ids must be contiguous"
    sqlite = connection.vendor == "sqlite"
    now_param = now.strftime("%Y-%m-%d %H:%M:%S") if sqlite else now

    def days_ago(expr: str) -> str:
        if sqlite:
            return f"datetime(%s, '-' || ({expr}) || ' days')"
        return f"(%s::timestamptz - ({expr}) * interval '1 day')"

    computed = {
        "full_name": ("'Person ' || i", []),
        "family_name": ("'Person'", []),
        "given_name": ("'' || i", []),
        "owner_id": (f"{first} + (i %% {count})", []),
        "created_at": (days_ago("200 + i %% 400"), [now_param]),
        "updated_at": ("%s", [now_param]),
        "owned_since": (days_ago("i %% 397"), [now_param]),
        "last_follow_up_at": (f"CASE WHEN i %% 5 = 0 THEN NULL ELSE {days_ago('(i * 7) %% 61')} END", [now_param]),
        "last_won_at": (f"CASE WHEN i %% 3 = 0 THEN NULL ELSE {days_ago('(i * 13) %% 400')} END", [now_param]),
        "reclaim_exempt": ("(i %% 50 = 0)", []),
    }
    columns, expressions, params = [], [], []
    for field in Person._meta.concrete_fields:
        if field.primary_key or field.column is None:
            continue
        if field.column in computed:
            expression, values = computed[field.column]
            columns.append(field.column)
            expressions.append(expression)
            params.extend(values)
        elif not field.null:
            columns.append(field.column)
            expressions.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    quote = connection.ops.quote_name
    column_list = ", ".join(quote(c) for c in columns)
    select = ", ".join(expressions)
    table = quote(Person._meta.db_table)
    # Only quoted model column names, integers and parameters go into the statement.
    if sqlite:
        series = f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {int(people)})"  # noqa: S608
        sql = f"INSERT INTO {table} ({column_list}) {series} SELECT {select} FROM s"  # noqa: S608  # see above
    else:
        sql = f"INSERT INTO {table} ({column_list}) SELECT {select} FROM generate_series(1, {int(people)}) AS s(i)"  # noqa: S608  # see above
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if not sqlite:
            cursor.execute(f"ANALYZE {table}")
        else:
            cursor.execute("ANALYZE")


def _baseline(now: datetime, team_id: int) -> tuple[float, int]:
    """A plain UPDATE of the same rows (no history), rolled back: the floor for moving them."""
    from django.db import transaction
    from django.db.models import Q

    from guanxi.customers import pool
    from guanxi.customers.models import Person
    from guanxi.staff.models import Team, User

    team = Team.objects.get(pk=team_id)
    assert team.reclaim_after_days_without_follow_up
    assert team.reclaim_after_days_without_win
    stale = pool.stale_q("last_follow_up_at", now - timedelta(days=team.reclaim_after_days_without_follow_up)) | (
        pool.stale_q("last_won_at", now - timedelta(days=team.reclaim_after_days_without_win))
    )
    members = User.objects.filter(team_id=team_id).values("pk")
    start = time.perf_counter()
    with pool.large_sqlite_cache(), transaction.atomic():
        moved = Person.objects.filter(Q(owner_id__in=members), stale, reclaim_exempt=False).update(owner=None)
        elapsed = time.perf_counter() - start
        transaction.set_rollback(True)
    return elapsed, moved


def _vacuum() -> None:
    """PostgreSQL: clear the rolled-back baseline's dead row versions, so the job does not wade through them."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE customers_person")


def run(db: str, people: int) -> dict[str, Any]:
    url = _database(db, people)
    common.setup_django(url)
    from django.core.management import call_command
    from django.utils import timezone

    from guanxi.core.models import ChangeRecord
    from guanxi.customers import pool

    call_command("migrate", verbosity=0)
    now = timezone.now().replace(microsecond=0)
    team_id, rep_ids = _staff(now)
    start = time.perf_counter()
    _generate(people, rep_ids, now)
    generated = time.perf_counter() - start
    baseline, expected = _baseline(now, team_id)
    _vacuum()
    start = time.perf_counter()
    result = pool.reclaim_neglected(now)
    elapsed = time.perf_counter() - start
    history = ChangeRecord.objects.filter(note__startswith="reclaimed").count()
    start = time.perf_counter()
    warned = len(pool.due_for_reclaim(now))
    warn_elapsed = time.perf_counter() - start
    assert result.people == expected == history, (result, expected, history)
    return {
        "db": db,
        "people": people,
        "generate_s": generated,
        "moved": result.people,
        "by_rule": result.by_rule,
        "baseline_s": baseline,
        "reclaim_s": elapsed,
        "ratio": elapsed / baseline if baseline else float("nan"),
        "warn_s": warn_elapsed,
        "owners_warned": warned,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--people", type=int, default=1_000_000)
    args = parser.parse_args()
    figures = run(args.db, args.people)
    print(f"# Shared pool reclaim, {figures['people']:,} people on {figures['db']} ({common.machine()})")
    print(f"generated in {figures['generate_s']:.1f} s")
    print(f"rows moved: {figures['moved']:,} {figures['by_rule']} (history rows: one per move)")
    print(f"baseline plain UPDATE (no history): {figures['baseline_s']:.2f} s")
    flag = "" if figures["reclaim_s"] < TARGET_SECONDS else " **over the 60 s target**"
    print(f"reclaim_neglected: {figures['reclaim_s']:.2f} s{flag}")
    print(f"ratio reclaim / baseline: {figures['ratio']:.2f}")
    print(f"warning counts (due_for_reclaim): {figures['warn_s']:.2f} s for {figures['owners_warned']} owners")


if __name__ == "__main__":
    main()
