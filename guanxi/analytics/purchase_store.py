"""Purchase summaries kept current between scoring runs: the incremental half of scoring.

A scoring run needs one row of purchase periods per customer (`engine.summaries`). Computing
them from every order costs a pass over the whole order history each time, so they are kept in
`PurchaseSummary` and refreshed from what changed since the last refresh:

- **new orders** (an id above the stored watermark) are folded in with `merge_periods`, which is
  exact when they fall on or after the customer's stored last purchase day — how orders arrive;
- customers with a **back-dated** new order, or with an older order **changed** since (status,
  amount, buyer re-pointed by a merge: its `updated_at` moves), are recomputed from all their
  orders, a few thousand customers per statement through the buyer indexes;
- a **rebuild** recomputes everything: the first time, when the engine version changes, when
  asked (`manage.py analytics refresh-summaries --rebuild`), and weekly as a safety net.

What cannot be folded is recomputed, so the store always equals computing from the orders
(the tests compare the two after every kind of change). Two limits are stated rather than paid
for: an order dated in the future when it is added counts once it is next changed or at the
weekly rebuild, and a party deleted by a merge leaves a row that the scoring run drops when it
finds no record for it (`forget`).
"""

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from guanxi import engine
from guanxi.analytics.models import PurchaseSummary, PurchaseSummaryState
from guanxi.commerce import purchase_history
from guanxi.core.db import server_binding_cursor
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
    """Customers recomputed from all their orders (back-dated or changed orders)."""
    customers: int
    through: dt.datetime
    """Orders placed up to this moment are in the summaries."""


def _table() -> str:
    return connection.ops.quote_name(PurchaseSummary._meta.db_table)


def _columns() -> str:
    return ", ".join(connection.ops.quote_name(c) for c in summaries.PERIOD_COLUMNS)


def _insert_periods(expr: Any, *, where: str = "TRUE", upsert: bool = False) -> int:
    """Insert the rows of a `purchase_periods`-shaped expression, compiled by Ibis (values are
    literals Ibis quotes itself; the rest is fixed names), optionally replacing stored rows."""
    columns = _columns()
    sql = (
        f"INSERT INTO {_table()} ({columns}) SELECT {columns} "  # noqa: S608  -- quoted names and Ibis-compiled SQL
        f"FROM ({purchase_history.to_sql(expr)}) AS periods WHERE {where}"
    )
    if upsert:
        updates = ", ".join(
            f"{connection.ops.quote_name(c)} = excluded.{connection.ops.quote_name(c)}"
            for c in summaries.PERIOD_COLUMNS[1:]
        )
        sql += f" ON CONFLICT ({connection.ops.quote_name('customer')}) DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        cursor.execute(sql)
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
    with transaction.atomic():
        state = _state()
        if rebuild or not state.rebuilt_at or state.engine_version != engine.__version__:
            report = _rebuild(up_to_id, now)
            state.rebuilt_at = started
            state.engine_version = engine.__version__
            state.order_id = up_to_id
        else:
            report = _fold(state, up_to_id, now)
            state.order_id = max(up_to_id, state.order_id)
        state.changed_until = started
        state.refreshed_at = started
        state.customers = PurchaseSummary.objects.count()
        state.save()
    return RefreshReport(
        rebuilt=report.rebuilt,
        new_orders=report.new_orders,
        folded=report.folded,
        recomputed=report.recomputed,
        customers=state.customers,
        through=now,
    )


def _rebuild(up_to_id: int, now: dt.datetime) -> RefreshReport:
    PurchaseSummary.objects.all().delete()
    source = purchase_history.purchases_table(order_ids=(0, up_to_id))
    inserted = _insert_periods(summaries.purchase_periods(source, end=now))
    return RefreshReport(True, 0, 0, inserted, 0, now)


def _fold(state: PurchaseSummaryState, up_to_id: int, now: dt.datetime) -> RefreshReport:
    new_orders = 0
    folded = 0
    late: set[str] = set()
    if up_to_id > state.order_id:
        new = summaries.purchase_periods(
            purchase_history.purchases_table(order_ids=(state.order_id, up_to_id)), end=now
        )
        new_orders = purchase_history.purchases().filter(pk__gt=state.order_id, pk__lte=up_to_id).count()
        merged = summaries.merge_periods(summaries.periods_table(PurchaseSummary._meta.db_table), new)
        late = {str(row[0]) for row in purchase_history.run(merged.filter(merged.late).select("customer"))}
        folded = _insert_periods(merged, where="NOT periods.late", upsert=True)
    changed_after = (state.changed_until or timezone.now()) - CHANGE_OVERLAP
    changed = purchase_history.customers_of_changed_orders(up_to_id=state.order_id, changed_after=changed_after)
    recompute = sorted(late | changed)
    recompute_customers(recompute, up_to_id=up_to_id, now=now, stored=state.customers)
    return RefreshReport(False, new_orders, folded, len(recompute), 0, now)


def recompute_customers(customers: Sequence[str], *, up_to_id: int, now: dt.datetime, stored: int) -> None:
    """Replace these customers' rows by periods computed from all their orders: their ids go
    into temporary tables that the orders are joined with, one statement for all of them.
    `stored` is how many rows the store holds (the state's count), for choosing the plan."""
    if not customers:
        return
    forget(customers)
    with purchase_history.buyer_tables(customers) as buyers:
        source = purchase_history.purchases_table(order_ids=(0, up_to_id), buyers=buyers)
        with _through_buyer_indexes(len(customers), stored):
            _insert_periods(summaries.purchase_periods(source, end=now))


@contextmanager
def _through_buyer_indexes(customers: int, stored: int) -> Iterator[None]:
    """On PostgreSQL, join the few customers' ids to their orders through the buyer indexes.

    The planner prices one index probe per customer above one pass over every order (its
    default `random_page_cost` assumes spinning disks), and chooses a full scan of ten million
    orders to recompute a few thousand customers. While the set is a small share of the stored
    customers, hash and merge joins are switched off for this one statement; for a large share
    the planner's full scan is the right plan and is left alone.
    """
    if connection.vendor != "postgresql" or not stored or customers > stored * INDEX_JOIN_SHARE:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_hashjoin = off")
        cursor.execute("SET LOCAL enable_mergejoin = off")
        # The switched-off joins inflate the plan's estimated cost past JIT's thresholds, and
        # compiling it would cost more than running it.
        cursor.execute("SET LOCAL jit = off")
        try:
            yield
        finally:
            cursor.execute("RESET enable_hashjoin")
            cursor.execute("RESET enable_mergejoin")
            cursor.execute("RESET jit")


def forget(customers: Collection[str]) -> int:
    """Drop rows of customers that no longer exist (a merge deleted the record)."""
    keys = sorted(customers)
    removed = 0
    for start in range(0, len(keys), DELETE_CHUNK):
        removed += PurchaseSummary.objects.filter(customer__in=keys[start : start + DELETE_CHUNK]).delete()[0]
    return removed


def read_columns() -> list[Sequence[Any]]:
    """Every stored row as columns in `PERIOD_COLUMNS` order, for `summaries_from_periods`.

    On PostgreSQL the rows come in binary: a million rows of numbers parse about a third faster
    than as text.
    """
    sql = f"SELECT {_columns()} FROM {_table()}"  # noqa: S608  -- quoted names, no values
    if connection.vendor == "postgresql":
        with server_binding_cursor() as cursor:
            rows = cursor.execute(sql, binary=True).fetchall()
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            rows = cursor.fetchall()
    if not rows:
        return [() for _ in summaries.PERIOD_COLUMNS]
    return list(zip(*rows, strict=True))
