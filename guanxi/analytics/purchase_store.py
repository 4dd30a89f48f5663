"""Purchase summaries kept current between scoring runs: the incremental half of scoring.

A scoring run needs one row of purchase periods per customer (`engine.summaries`). Computing
them from every order costs a pass over the whole order history each time, so they are kept in
`PurchaseSummary` and refreshed from what changed since the last refresh:

- **new orders** (an id above the stored watermark) are summed per customer and day, and folded
  in with the engine's `fold_days`, exact wherever the days fall. Only a back-dated day strictly
  inside a customer's stored days needs to know whether the customer already bought that day;
  that is one probe of the buyer index (`purchase_history.mark_days_seen`);
- customers with an older order **changed** since (status, amount, buyer re-pointed by a merge:
  its `updated_at` moves) are recomputed from all their orders, a few thousand customers per
  statement through the (covering) buyer indexes;
- a **rebuild** recomputes everything: the first time, when the engine version changes, when
  the unlogged store was emptied by a crash, when asked (`manage.py analytics summaries
  --rebuild`), and weekly as a safety net.

The store always equals computing from the orders (the tests compare the two after every kind
of change). Two limits are stated rather than paid for: an order dated in the future when it is
added counts once it is next changed or at the weekly rebuild, and a party deleted by a merge
leaves a row that the scoring run drops when it finds no record for it (`forget_missing`).
"""

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import ibis  # type: ignore[import-untyped]  # ibis ships no py.typed marker; expressions are typed Any
import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from guanxi import engine
from guanxi.analytics.models import PurchaseSummary, PurchaseSummaryState
from guanxi.commerce import purchase_history
from guanxi.core.db import ColumnKind, table_columns, temporary_table
from guanxi.engine import summaries

# Keys per DELETE … IN (…): below SQLite's smallest bound-parameter limit.
DELETE_CHUNK = 900
# Up to this share of the stored customers, a recompute reads their orders through the indexes.
INDEX_JOIN_SHARE = 0.05
# Changed orders are looked for from this long before the last refresh: a transaction that
# stamped `updated_at` just before a refresh may commit just after it. Recomputing a customer
# twice changes nothing, so the overlap costs little and loses nothing.
CHANGE_OVERLAP = dt.timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class RefreshReport:
    rebuilt: bool
    new_orders: int
    folded: int
    """Customers whose new orders were folded into their stored periods."""
    recomputed: int
    """Customers recomputed from all their orders (an old order of theirs changed)."""
    customers: int
    """Rows in the store after the refresh (inside the module: the change in rows, or the rows
    a rebuild wrote)."""
    through: dt.datetime
    """Orders placed up to this moment are in the summaries."""


def _table() -> str:
    return connection.ops.quote_name(PurchaseSummary._meta.db_table)


def _columns() -> str:
    return ", ".join(connection.ops.quote_name(c) for c in summaries.PERIOD_COLUMNS)


def _insert_periods(expr: Any) -> int:
    """Insert the rows of a `purchase_periods`-shaped expression, compiled by Ibis (values are
    literals Ibis quotes itself; the rest is fixed names)."""
    columns = _columns()
    select = purchase_history.to_sql(expr)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {_table()} ({columns}) SELECT {columns} FROM ({select}) AS periods")  # noqa: S608  -- quoted names and Ibis-compiled SQL
        return max(int(cursor.rowcount), 0)


def _state() -> PurchaseSummaryState:
    state = PurchaseSummaryState.objects.select_for_update().order_by("pk").first()
    return state or PurchaseSummaryState.objects.create()


def refresh(*, rebuild: bool = False, now: dt.datetime | None = None) -> RefreshReport:
    """Bring the summaries up to the orders committed now; one transaction, the state row locked
    so two refreshes never fold the same orders twice.

    `now` is the end of observation (orders placed later wait for a later refresh); changes are
    followed by the clock, from the moment this refresh started.
    """
    started = timezone.now()
    up_to_id = purchase_history.last_order_id()
    now = now or started
    with transaction.atomic(), _more_memory():
        state = _state()
        if rebuild or not state.rebuilt_at or state.engine_version != engine.__version__ or _lost(state):
            report = _rebuild(up_to_id, now)
            state.rebuilt_at = started
            state.engine_version = engine.__version__
            state.order_id = up_to_id
        else:
            report = _fold(state, up_to_id, now)
            state.order_id = max(up_to_id, state.order_id)
        state.changed_until = started
        state.refreshed_at = started
        # Counted as rows come and go: a count(*) of a million rows just rewritten costs a second.
        state.customers = report.customers if report.rebuilt else state.customers + report.customers
        state.save()
    return RefreshReport(
        rebuilt=report.rebuilt,
        new_orders=report.new_orders,
        folded=report.folded,
        recomputed=report.recomputed,
        customers=state.customers,
        through=now,
    )


def _lost(state: PurchaseSummaryState) -> bool:
    """Whether the rows are gone while the state counts some: PostgreSQL empties the unlogged
    store after a crash (migration `analytics.0005`)."""
    return state.customers > 0 and not PurchaseSummary.objects.exists()


def _rebuild(up_to_id: int, now: dt.datetime) -> RefreshReport:
    """Every customer recomputed; `customers` is the number of rows."""
    if connection.vendor == "postgresql":
        # Refreshes queue on the state row, so nothing reads the store meanwhile; emptying it
        # outright leaves no million dead rows for every later scan to step over.
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {_table()}")
    else:
        PurchaseSummary.objects.all().delete()
    source = purchase_history.purchases_table(order_ids=(0, up_to_id))
    inserted = _insert_periods(summaries.purchase_periods(source, end=now))
    return RefreshReport(True, 0, 0, inserted, inserted, now)


def _fold(state: PurchaseSummaryState, up_to_id: int, now: dt.datetime) -> RefreshReport:
    """New orders folded in and changed customers recomputed; `customers` is the change in rows."""
    new_orders = 0
    folded = 0
    added = 0
    if up_to_id > state.order_id:
        new_orders, folded, added = _fold_new_orders(state.order_id, up_to_id, now)
    changed_after = (state.changed_until or timezone.now()) - CHANGE_OVERLAP
    changed = purchase_history.customers_of_changed_orders(up_to_id=state.order_id, changed_after=changed_after)
    recompute = sorted(changed)
    added += recompute_customers(recompute, up_to_id=up_to_id, now=now, stored=state.customers)
    return RefreshReport(False, new_orders, folded, len(recompute), added, now)


def _fold_new_orders(after_id: int, up_to_id: int, now: dt.datetime) -> tuple[int, int, int]:
    """Fold the orders with an id in (after_id, up_to_id] into the store; returns the orders,
    the customers folded and the customers added.

    Each step lands in a temporary table, so the next one is planned on its real size: the
    new days (a few per new order, where the order table's statistics cannot yet know how
    many ids lie past the last analysed one), the stored periods beside them (one pass over
    the store, hashed against the days), and the folded rows. Stored rows are then updated in
    place by one `UPDATE … FROM` and only the new customers inserted: an `INSERT … ON
    CONFLICT` would first try, and fail, to insert each of the tens of thousands of rows that
    are already stored.
    """
    quote = connection.ops.quote_name
    columns = summaries.PERIOD_COLUMNS
    orders = purchase_history.purchases_table(order_ids=(after_id, up_to_id))
    with _temporary_table("guanxi_new_days", summaries.purchase_days(orders, end=now)) as days_name:
        days = ibis.table(dict(summaries.DAY_SCHEMA), name=days_name)
        store = summaries.periods_table(PurchaseSummary._meta.db_table)
        attached = summaries.attach_stored(days.mutate(seen=ibis.literal(False)), store)
        with _temporary_table("guanxi_new_days_stored", attached) as attached_name:
            purchase_history.mark_days_seen(attached_name, up_to_id=after_id)
            fold = summaries.fold_attached(summaries.attached_table(attached_name))
            with _temporary_table("guanxi_folded", fold) as folded_name:
                table = _table()
                assignments = ", ".join(f"{quote(c)} = f.{quote(c)}" for c in columns[1:])
                customer = quote("customer")
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {table} SET {assignments} FROM {quote(folded_name)} AS f "  # noqa: S608  -- quoted fixed names
                        f"WHERE {table}.{customer} = f.{customer}"
                    )
                    updated = max(int(cursor.rowcount), 0)
                folded = summaries.periods_table(folded_name)
                new_customers = summaries.attached_table(attached_name)
                new_customers = new_customers.filter(new_customers.periods_old.isnull())
                added = _insert_periods(folded.semi_join(new_customers, folded.customer == new_customers.customer))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT sum(day_orders) FROM {quote(days_name)}")  # noqa: S608  -- a quoted fixed name
            row = cursor.fetchone()
    return (int(row[0] or 0) if row else 0), updated + added, added


def _temporary_table(name: str, expr: Any) -> AbstractContextManager[str]:
    """The rows of an expression in a temporary table (`core.db.temporary_table`)."""
    return temporary_table(name, f"AS {purchase_history.to_sql(expr)}")


@contextmanager
def _more_memory() -> Iterator[None]:
    """Let the refresh's statements hash and sort in memory (`GUANXI_ANALYTICS_WORK_MEM`), the
    setting given back afterwards even inside a longer transaction."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('work_mem'), set_config('work_mem', %s, true)", [settings.GUANXI_ANALYTICS_WORK_MEM]
        )
        row = cursor.fetchone()
    try:
        yield
    finally:
        if row is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('work_mem', %s, true)", [row[0]])


def recompute_customers(customers: Sequence[str], *, up_to_id: int, now: dt.datetime, stored: int) -> int:
    """Replace these customers' rows by periods computed from all their orders: their ids go
    into temporary tables that the orders are joined with, one statement for all of them.
    `stored` is how many rows the store holds (the state's count), for choosing the plan.
    Returns the change in the number of rows (a customer with no purchase left has none)."""
    if not customers:
        return 0
    removed = forget(customers)
    with purchase_history.buyer_tables(customers) as buyers:
        source = purchase_history.purchases_table(order_ids=(0, up_to_id), buyers=buyers)
        with _through_buyer_indexes(len(customers), stored):
            inserted = _insert_periods(summaries.purchase_periods(source, end=now))
    return inserted - removed


@contextmanager
def _through_buyer_indexes(customers: int, stored: int) -> Iterator[None]:
    """On PostgreSQL, read the few customers' orders through the buyer indexes.

    The planner's default `random_page_cost` (4, for spinning disks) prices one index probe per
    customer above one pass over every order, and it chooses a full scan of ten million orders
    to recompute a few thousand customers whenever the visibility map is behind. While the set
    is a small share of the stored customers, this one statement is planned with the cost of a
    random read on SSD or from memory; for a large share the full scan is the right plan and is
    left alone.
    """
    if connection.vendor != "postgresql" or not stored or customers > stored * INDEX_JOIN_SHARE:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('random_page_cost'), current_setting('jit'), "
            # JIT compiling a plan this short costs more than running it.
            "set_config('random_page_cost', '1.1', true), set_config('jit', 'off', true)"
        )
        before = cursor.fetchone()
        try:
            yield
        finally:
            if before is not None:
                cursor.execute(
                    "SELECT set_config('random_page_cost', %s, true), set_config('jit', %s, true)",
                    [before[0], before[1]],
                )


def forget(customers: Collection[str]) -> int:
    """Drop these customers' rows; returns how many there were."""
    keys = sorted(customers)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # One array parameter, not thousands of bound keys.
            cursor.execute(f"DELETE FROM {_table()} WHERE customer = ANY(%s)", [keys])  # noqa: S608  -- a quoted fixed name
            return max(int(cursor.rowcount), 0)
    removed = 0
    for start in range(0, len(keys), DELETE_CHUNK):
        removed += PurchaseSummary.objects.filter(customer__in=keys[start : start + DELETE_CHUNK]).delete()[0]
    return removed


def forget_missing(customers: Collection[str]) -> int:
    """Drop rows of customers whose record is gone (a merge deleted it), keeping the count."""
    with transaction.atomic():
        removed = forget(customers)
        PurchaseSummaryState.objects.update(customers=F("customers") - removed)
    return removed


class StoredColumns(NamedTuple):
    periods: list[Sequence[Any]]
    """Every stored row as columns in `PERIOD_COLUMNS` order, for `summaries_from_periods`: the
    keys as a list, the numbers as NumPy arrays."""
    key_kinds: npt.NDArray[np.int64]
    """Per row, the code point of the key's prefix (`purchase_history.key_parts`)."""
    key_ids: npt.NDArray[np.int64]
    """Per row, the account or person id in the key."""


def read_columns() -> StoredColumns:
    """The whole store in one read (`core.db.table_columns`), with each key's parts parsed by
    the database, so that sorting the keys and finding their records need no string work."""
    parts = purchase_history.key_parts_sql("customer")
    key_columns: list[tuple[str, ColumnKind]] = [(name, "int64") for name in parts]
    *periods, kinds, ids = table_columns(
        PurchaseSummary._meta.db_table, [*_PERIOD_KINDS.items(), *key_columns], expressions=parts
    )
    return StoredColumns(periods, kinds, ids)


_KINDS: dict[str, ColumnKind] = {"string": "text", "int64": "int64", "float64": "float64"}
_PERIOD_KINDS = {name: _KINDS[kind] for name, kind in summaries.PERIOD_SCHEMA.items()}
