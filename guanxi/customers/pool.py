"""The shared pool's reclaim rules (收回规则), applied to every customer in set-based SQL.

Per team (`staff.Team`): a customer owned by one of the team's members and not locked returns to
the pool when the later of (owned since, last follow-up, created) is more than N days ago, or the
later of (owned since, last deal won, created) is more than M days ago. A million customers are
two `INSERT … SELECT` (history) and two `UPDATE` statements per team and rule, never a Python loop
per row, so the nightly job takes seconds, not hours.

"The later of several nullable dates is before the cutoff" is written as "each of them is null or
before it" (created is never null): portable between SQLite and PostgreSQL (whose `max()`/
`GREATEST` treat NULL differently) and readable by the owner/date indexes.

Warnings are counted here but delivered by the caller (`notify`): reminders live in the
activities app, which builds on customers, so customers may not import it.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connections, router, transaction
from django.db.models import Case, CharField, Count, DateTimeField, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import JSONArray, JSONObject

from guanxi.core.models import ChangeAction, ChangeRecord
from guanxi.customers.models import Account, Person
from guanxi.staff.models import Team, User

PARTY_MODELS: tuple[type[Account] | type[Person], ...] = (Account, Person)
RULE_FOLLOW_UP = "follow_up"
RULE_WIN = "win"
RULE_FIELDS = {RULE_FOLLOW_UP: "last_follow_up_at", RULE_WIN: "last_won_at"}


@dataclass
class ReclaimResult:
    accounts: int = 0
    people: int = 0
    by_rule: dict[str, int] = field(default_factory=lambda: {RULE_FOLLOW_UP: 0, RULE_WIN: 0})

    @property
    def total(self) -> int:
        return self.accounts + self.people


@dataclass(frozen=True)
class ReclaimWarning:
    """An owner's customers that will be reclaimed within `days` unless followed up (or won)."""

    owner_id: int
    accounts: int
    people: int
    days: int


def note_for(rule: str, days: int) -> str:
    """The history note of a reclaim (stored in English, like every history note)."""
    if rule == RULE_FOLLOW_UP:
        return f"reclaimed to the shared pool: no follow-up in {days} days"
    return f"reclaimed to the shared pool: no deal won in {days} days"


def stale_q(date_field: str, cutoff: datetime) -> Q:
    """max(owned_since, `date_field`, created_at) < cutoff, with NULL dates ignored."""
    return (
        Q(created_at__lt=cutoff)
        & (Q(owned_since__isnull=True) | Q(owned_since__lt=cutoff))
        & (Q(**{f"{date_field}__isnull": True}) | Q(**{f"{date_field}__lt": cutoff}))
    )


def _team_rules(team: Team) -> list[tuple[str, int]]:
    rules = []
    if team.reclaim_after_days_without_follow_up:
        rules.append((RULE_FOLLOW_UP, team.reclaim_after_days_without_follow_up))
    if team.reclaim_after_days_without_win:
        rules.append((RULE_WIN, team.reclaim_after_days_without_win))
    return rules


def _owned_by_team(model: type[Account] | type[Person], team: Team) -> QuerySet[Any]:
    members = User.objects.filter(team_id=team.pk).values("pk")
    return model.objects.filter(owner_id__in=Subquery(members), reclaim_exempt=False)


def _insert_history(queryset: QuerySet[Any], team: Team, now: datetime, note: str) -> int:
    """One `INSERT INTO core_changerecord … SELECT` for every row of `queryset`: owner → null."""
    names = {pk: str(user) for pk, user in ((u.pk, u) for u in User.objects.filter(team_id=team.pk))}
    owner_name = Case(
        *(When(owner_id=pk, then=Value(name)) for pk, name in names.items()),
        default=Value(None, output_field=CharField()),
        output_field=CharField(),
    )
    content_type = ContentType.objects.get_for_model(queryset.model)
    select = queryset.order_by().values_list(
        Value(content_type.pk),
        "pk",
        Value(ChangeAction.UPDATE.value),
        Value(now, output_field=DateTimeField()),
        JSONObject(owner=JSONArray(owner_name, Value(None, output_field=CharField()))),
        Value(note),
    )
    sql, params = select.query.sql_with_params()
    connection = connections[router.db_for_write(ChangeRecord)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in ("content_type_id", "object_id", "action", "at", "changes", "note"))
    with connection.cursor() as cursor:
        # Table and column names are quoted constants; every value is a parameter.
        cursor.execute(f"INSERT INTO {quote(ChangeRecord._meta.db_table)} ({columns}) {sql}", params)
        return int(cursor.rowcount)


def _move_with_history(queryset: QuerySet[Any], team: Team, now: datetime, note: str) -> int:
    """PostgreSQL: move the rows and write their history in one statement, reading each row once.

    The candidates are locked (`FOR UPDATE` re-checks the rules on a row changed meanwhile, so a
    follow-up recorded during the job keeps its customer); the UPDATE's RETURNING hands each moved
    row with its old owner straight to the history INSERT.
    """
    model = queryset.model
    select_sql, select_params = (
        queryset.order_by().select_for_update(of=("self",)).values_list("pk", "owner_id").query.sql_with_params()
    )
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    names = [(user.pk, str(user)) for user in User.objects.filter(team_id=team.pk)]
    table = quote(model._meta.db_table)
    history = quote(ChangeRecord._meta.db_table)
    columns = ", ".join(quote(c) for c in ("content_type_id", "object_id", "action", "at", "changes", "note"))
    name_rows = ", ".join(["(%s::bigint, %s::text)"] * len(names)) or "(NULL::bigint, NULL::text)"
    # Table and column names are quoted constants; every value is a parameter.
    sql = (
        f"WITH old (id, owner_id) AS ({select_sql}), "  # noqa: S608
        f"moved AS (UPDATE {table} AS p SET owner_id = NULL, owned_since = NULL FROM old "
        "WHERE p.id = old.id RETURNING p.id, old.owner_id), "
        f"names (id, name) AS (VALUES {name_rows}) "
        f"INSERT INTO {history} ({columns}) "
        "SELECT %s, moved.id, %s, %s, jsonb_build_object('owner', jsonb_build_array(names.name, NULL)), %s "
        "FROM moved LEFT JOIN names ON names.id = moved.owner_id"
    )
    params = [
        *select_params,
        *(value for row in names for value in row),
        ContentType.objects.get_for_model(model).pk,
        ChangeAction.UPDATE.value,
        now,
        note,
    ]
    with connection.cursor() as cursor:
        # Room for the join of half a million candidates with their rows in memory (this transaction only).
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(sql, params)
        return int(cursor.rowcount)


#: SQLite page cache for the job (KiB): a UPDATE moving half a million owners rewrites three
#: owner indexes; with the default 2 MB cache every index page is read from disk again and again.
SQLITE_JOB_CACHE_KIB = 256 * 1024


@contextmanager
def large_sqlite_cache(using: str = "default") -> Iterator[None]:
    """Give this connection a large page cache for a bulk job on SQLite; no-op elsewhere."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = -{int(SQLITE_JOB_CACHE_KIB)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


def reclaim_neglected(now: datetime) -> ReclaimResult:
    """See `_reclaim`; on SQLite with a page cache large enough for the owner indexes."""
    with large_sqlite_cache(router.db_for_write(ChangeRecord)):
        return _reclaim(now)


@transaction.atomic
def _reclaim(now: datetime) -> ReclaimResult:
    """Return neglected customers to the shared pool per each team's rules; history for every move.

    Per team, rule and model: the history rows are written first (they need the old owner), then
    the UPDATE moves exactly the rows that history names. Safe to rerun: moved rows have no owner.
    """
    result = ReclaimResult()
    for team in Team.objects.filter(
        Q(reclaim_after_days_without_follow_up__isnull=False) | Q(reclaim_after_days_without_win__isnull=False)
    ).order_by("pk"):
        for rule, days in _team_rules(team):
            cutoff = now - timedelta(days=days)
            note = note_for(rule, days)
            for model in PARTY_MODELS:
                candidates = _owned_by_team(model, team).filter(stale_q(RULE_FIELDS[rule], cutoff))
                if connections[router.db_for_write(model)].vendor == "postgresql":
                    moved = _move_with_history(candidates, team, now, note)
                else:
                    if _insert_history(candidates, team, now, note) == 0:
                        continue
                    content_type = ContentType.objects.get_for_model(model)
                    batch = ChangeRecord.objects.filter(at=now, note=note, content_type=content_type).values(
                        "object_id"
                    )
                    moved = model.objects.filter(pk__in=Subquery(batch), owner__isnull=False).update(
                        owner=None, owned_since=None
                    )
                result.by_rule[rule] += moved
                if model is Account:
                    result.accounts += moved
                else:
                    result.people += moved
    return result


def due_for_reclaim(now: datetime) -> list[ReclaimWarning]:
    """Per owner, how many customers will be reclaimed within their team's warning days."""
    counts: dict[tuple[int, int], dict[str, int]] = {}
    for team in Team.objects.filter(reclaim_warning_days__gt=0).order_by("pk"):
        rules = _team_rules(team)
        if not rules:
            continue
        soon = Q(pk__in=[])
        for rule, days in rules:
            soon |= stale_q(RULE_FIELDS[rule], now + timedelta(days=team.reclaim_warning_days - days))
        for model in PARTY_MODELS:
            rows = _owned_by_team(model, team).filter(soon).order_by().values("owner_id").annotate(n=Count("pk"))
            for row in rows:
                slot = counts.setdefault((row["owner_id"], team.reclaim_warning_days), {"accounts": 0, "people": 0})
                slot["accounts" if model is Account else "people"] += row["n"]
    return [
        ReclaimWarning(owner_id=owner_id, accounts=c["accounts"], people=c["people"], days=days)
        for (owner_id, days), c in sorted(counts.items())
    ]


def warn_before_reclaim(now: datetime, notify: Callable[[datetime, list[ReclaimWarning]], int]) -> int:
    """Hand each owner's coming reclaims to `notify` (which writes at most one reminder per owner per day)."""
    warnings = due_for_reclaim(now)
    return notify(now, warnings) if warnings else 0
