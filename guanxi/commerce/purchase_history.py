"""Read-only purchase history for analytics: the orders table as the engine sees it.

The engine's summaries are Ibis expressions over (customer, ordered_at, amount). This module
describes the app's own order table in those terms, as an unbound Ibis table compiled to the
SQL of the app's database and run on Django's connection, so the summaries run inside the
database, in the caller's transaction, with nothing but per-customer rows coming back.

The customer of an order is its buyer: the account when there is one (B2B: the person is the
account's contact), else the person. Keys are "a<account id>" or "p<person id>", so one column
holds both kinds and sorts and groups like any string.

Cancelled and returned orders are not purchases and are left out here, once for every caller.
"""

import datetime as dt
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import ibis  # type: ignore[import-untyped]  # ibis ships no py.typed marker; expressions are typed Any
import numpy as np
import numpy.typing as npt
from django.db import connection, transaction
from django.db.models import Count, Max, Min, QuerySet, Sum

from guanxi.commerce.models import Order, OrderLine, OrderStatus, Product
from guanxi.core.db import temporary_table

#: Orders that did not end as a purchase.
NOT_PURCHASES = (OrderStatus.CANCELLED, OrderStatus.RETURNED)

ACCOUNT_PREFIX = "a"
PERSON_PREFIX = "p"

_DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres"}


def customer_key(*, account_id: int | None = None, person_id: int | None = None) -> str:
    """The engine's key for a buyer: the account if any, else the person."""
    if account_id is not None:
        return f"{ACCOUNT_PREFIX}{account_id}"
    if person_id is not None:
        return f"{PERSON_PREFIX}{person_id}"
    raise ValueError("an order has a buyer account or a buyer person")


def split_key(key: str) -> tuple[str, int]:
    """("account" | "person", id) for a key made by `customer_key`."""
    kind = {ACCOUNT_PREFIX: "account", PERSON_PREFIX: "person"}.get(key[:1])
    if kind is None or not key[1:].isdigit():
        raise ValueError(f"not a customer key: {key!r}")
    return kind, int(key[1:])


# The code points of the key prefixes, in code point order: a kind's rank is its position.
_PREFIX_CODES = np.array(sorted(ord(prefix) for prefix in (ACCOUNT_PREFIX, PERSON_PREFIX)), dtype=np.int64)
# Keys of ids up to this many digits are ordered by integer arithmetic (see `key_order`).
_MAX_ORDERED_DIGITS = 16
_POWERS_OF_TEN = 10 ** np.arange(_MAX_ORDERED_DIGITS + 1, dtype=np.int64)


def key_parts_sql(column: str, *, table: str | None = None) -> dict[str, str]:
    """SQL giving the parts of the keys in `column` (of `table`, an alias, where given), e.g. for
    `core.db.table_columns(expressions=…)`: `key_kind`, the code point of the prefix, and
    `key_id`, the account or person id."""
    quoted = connection.ops.quote_name(column)
    if table is not None:
        quoted = f"{connection.ops.quote_name(table)}.{quoted}"
    first = f"ascii({quoted})" if connection.vendor == "postgresql" else f"unicode({quoted})"
    return {"key_kind": first, "key_id": f"CAST(substr({quoted}, 2) AS BIGINT)"}


def key_parts(keys: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """`key_parts_sql` in Python: the prefixes' code points and the ids of keys made by `customer_key`."""
    kinds = np.fromiter((ord(key[0]) for key in keys), dtype=np.int64, count=len(keys))
    ids = np.fromiter((int(key[1:]) for key in keys), dtype=np.int64, count=len(keys))
    return kinds, ids


def key_order(kinds: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64] | None:
    """Positions that sort the keys with these parts as sorting the strings would (code point
    order: "p10" before "p9"), found with integers, several times faster than comparing a
    million strings; None where the arithmetic would not be exact, for the caller to sort the
    strings instead.

    Two decimal ids compare as strings as they compare once both are scaled to the same number
    of digits (1 → 1000, 10 → 1000, 2 → 2000), the shorter first when that ties (then one
    is the other followed by zeros, so it is a prefix of it).
    """
    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    if ids.min() < 1 or ids.max() >= _POWERS_OF_TEN[-1] or not np.isin(kinds, _PREFIX_CODES).all():
        return None
    digits = np.searchsorted(_POWERS_OF_TEN, ids, side="right")
    width = int(digits.max())
    scaled = ids * _POWERS_OF_TEN[width - digits]
    rank = np.searchsorted(_PREFIX_CODES, kinds).astype(np.int64)
    composite = (rank * _POWERS_OF_TEN[width] + scaled) * 32 + digits
    return np.argsort(composite, kind="stable").astype(np.int64)


def raw_orders_table() -> Any:
    """The order table's columns the engine reads, as an unbound Ibis table."""
    return ibis.table(
        {
            "id": "int64",
            "buyer_account_id": "int64",
            "buyer_person_id": "int64",
            "ordered_at": "timestamp",
            "total_amount": "decimal(14, 2)",
            "status": "string",
        },
        name=Order._meta.db_table,
    )


def purchases_table(*, order_ids: tuple[int, int] | None = None, buyers: tuple[str, str] | None = None) -> Any:
    """Purchases as (customer, ordered_at, amount): the engine's `ORDER_SCHEMA`.

    `order_ids` (exclusive low, inclusive high) keeps the orders with an id in that range.
    `buyers` names two one-column (`id`) tables of account and person ids (see `buyer_tables`)
    and keeps only those buyers' orders, joined through the buyer indexes, so recomputing a few
    thousand customers reads only their orders.
    """
    orders = raw_orders_table()
    orders = orders.filter(~orders.status.isin([str(s) for s in NOT_PURCHASES]))
    if order_ids is not None:
        orders = orders.filter((orders.id > order_ids[0]) & (orders.id <= order_ids[1]))
    if buyers is not None:
        accounts = ibis.table({"id": "int64"}, name=buyers[0])
        people = ibis.table({"id": "int64"}, name=buyers[1])
        of_accounts = orders.semi_join(accounts, orders.buyer_account_id == accounts.id)
        of_people = orders.filter(orders.buyer_account_id.isnull()).semi_join(
            people, orders.buyer_person_id == people.id
        )
        orders = of_accounts.union(of_people, distinct=False)
    customer = ibis.ifelse(
        orders.buyer_account_id.notnull(),
        ibis.literal(ACCOUNT_PREFIX) + orders.buyer_account_id.cast("string"),
        ibis.literal(PERSON_PREFIX) + orders.buyer_person_id.cast("string"),
    )
    return orders.select(customer=customer, ordered_at=orders.ordered_at, amount=orders.total_amount.cast("float64"))


@contextmanager
def buyer_tables(customers: Collection[str]) -> Iterator[tuple[str, str]]:
    """Temporary tables of these customers' account and person ids, for `purchases_table(buyers=…)`.

    Ids travel as parameters of one batched INSERT each; the tables go when the block ends.
    """
    accounts, people = _ids_by_kind(customers)

    def filled_with(ids: list[int]) -> Callable[[Any, str], None]:
        def fill(cursor: Any, table: str) -> None:
            if connection.vendor == "postgresql":
                # One array parameter: a hundred thousand single-row inserts cost seconds.
                cursor.execute(f"INSERT INTO {table} (id) SELECT unnest(%s::bigint[])", [ids])
            else:
                cursor.executemany(f"INSERT INTO {table} (id) VALUES (%s)", [(pk,) for pk in ids])  # noqa: S608  -- a quoted fixed name; ids are parameters

        return fill

    definition = "(id bigint PRIMARY KEY)"
    with (
        temporary_table("guanxi_buyer_accounts", definition, fill=filled_with(accounts)) as account_table,
        temporary_table("guanxi_buyer_people", definition, fill=filled_with(people)) as person_table,
    ):
        yield account_table, person_table


def _ids_by_kind(keys: Collection[str]) -> tuple[list[int], list[int]]:
    accounts: list[int] = []
    people: list[int] = []
    for key in keys:
        kind, pk = split_key(key)
        (accounts if kind == "account" else people).append(pk)
    return sorted(accounts), sorted(people)


def last_order_id() -> int:
    """The highest order id whose order is committed: every lower id is committed or never will be.

    On PostgreSQL an id is drawn inside the inserting transaction, so a lower id may still be
    uncommitted while a higher one is visible. Taking a SHARE lock on the table waits for the
    transactions writing to it and lets no new one start; it is held only while reading the
    maximum. SQLite has one writer at a time, so its maximum is already settled.
    """
    table = connection.ops.quote_name(Order._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")
        cursor.execute(f"SELECT max(id) FROM {table}")  # noqa: S608  -- a quoted table name, no values
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def customers_of_changed_orders(*, up_to_id: int, changed_after: dt.datetime) -> set[str]:
    """Buyers of orders up to `up_to_id` changed (`updated_at`) after a moment, whatever their
    status now: a cancelled or re-pointed order changes its buyer's purchases too."""
    rows = (
        Order.objects.filter(pk__lte=up_to_id, updated_at__gt=changed_after)
        .order_by()
        .values_list("buyer_account_id", "buyer_person_id")
        .distinct()
    )
    return {customer_key(account_id=a, person_id=p) for a, p in rows}


def mark_days_seen(days_table: str, *, up_to_id: int) -> int:
    """Set `seen` on rows of a table of new purchase days with the stored periods beside them
    (the engine's `attach_stored`) whose customer already bought that day among the orders up
    to `up_to_id`; returns how many.

    Only days strictly between the customer's stored first and last day are looked up (the
    engine's `needs_seen`); `fold_attached` answers the rest itself. Each lookup is one probe
    of the buyer index for that customer and day, so a back-dated order costs an index probe
    instead of re-reading the customer's whole history.
    """
    quote = connection.ops.quote_name
    orders, days = quote(Order._meta.db_table), quote(days_table)
    if connection.vendor == "postgresql":
        day_start, next_day_start = "to_timestamp(d.day * 86400)", "to_timestamp((d.day + 1) * 86400)"
    else:  # SQLite holds timestamps as UTC text, which compares in time order
        day_start, next_day_start = "datetime(d.day * 86400, 'unixepoch')", "datetime((d.day + 1) * 86400, 'unixepoch')"
    parts = key_parts_sql("customer", table="d")
    party = parts["key_id"]
    buyer_of = {
        ACCOUNT_PREFIX: f"o.buyer_account_id = {party}",
        PERSON_PREFIX: f"o.buyer_person_id = {party} AND o.buyer_account_id IS NULL",
    }
    marked = 0
    with connection.cursor() as cursor:
        for prefix, buyer in buyer_of.items():
            cursor.execute(
                f"UPDATE {days} AS d SET seen = TRUE "  # noqa: S608  -- quoted fixed names; values are parameters
                f"WHERE d.day > d.first_day_old AND d.day < d.last_day_old AND {parts['key_kind']} = %s "
                f"AND EXISTS (SELECT 1 FROM {orders} AS o WHERE {buyer} AND o.id <= %s AND o.status NOT IN (%s, %s) "
                f"AND o.ordered_at >= {day_start} AND o.ordered_at < {next_day_start})",
                [ord(prefix), up_to_id, *[str(status) for status in NOT_PURCHASES]],
            )
            marked += max(int(cursor.rowcount), 0)
    return marked


def dialect() -> str:
    """Ibis' name for the app database's SQL dialect."""
    try:
        return _DIALECTS[connection.vendor]
    except KeyError:
        raise NotImplementedError(f"analytics does not run on {connection.vendor}") from None


def to_sql(expr: Any) -> str:
    return str(ibis.to_sql(expr, dialect=dialect()))


def run(expr: Any, *, batch_size: int = 10_000) -> Iterator[tuple[Any, ...]]:
    """Rows of an expression over `purchases_table`, run on the app database's connection.

    The SQL comes from Ibis with no parameters (values are literals it quotes itself), so
    nothing is string-built here. Rows are fetched in batches.
    """
    sql = to_sql(expr)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        while batch := cursor.fetchmany(batch_size):
            yield from (tuple(row) for row in batch)


def purchases() -> QuerySet[Order]:
    """Orders that count as purchases, for ORM reads."""
    return Order.objects.exclude(status__in=NOT_PURCHASES)


def order_count() -> int:
    return purchases().count()


def totals(since: dt.datetime | None = None, until: dt.datetime | None = None) -> dict[str, Any]:
    """Orders, revenue, buyers and the first/last order date within a window, in one query."""
    qs = purchases()
    if since is not None:
        qs = qs.filter(ordered_at__gte=since)
    if until is not None:
        qs = qs.filter(ordered_at__lte=until)
    row = qs.aggregate(
        orders=Count("id"),
        revenue=Sum("total_amount"),
        first=Min("ordered_at"),
        last=Max("ordered_at"),
    )
    return {
        "orders": int(row["orders"] or 0),
        "revenue": row["revenue"] or Decimal("0"),
        "first": row["first"],
        "last": row["last"],
    }


def basket_pairs() -> Iterator[tuple[int, int]]:
    """(order id, product id) for every purchased line with a product, ordered by order."""
    lines = (
        OrderLine.objects.exclude(order__status__in=NOT_PURCHASES)
        .filter(product__isnull=False)
        .order_by("order_id")
        .values_list("order_id", "product_id")
    )
    for order_id, product_id in lines.iterator(chunk_size=20_000):
        yield int(order_id), int(product_id)


def products_bought() -> Iterator[tuple[str, int]]:
    """Distinct (customer key, product id) pairs: what each customer has bought, for suggestions."""
    lines = (
        OrderLine.objects.exclude(order__status__in=NOT_PURCHASES)
        .filter(product__isnull=False)
        .values_list("order__buyer_account_id", "order__buyer_person_id", "product_id")
        .distinct()
        .order_by()
    )
    for account_id, person_id, product_id in lines.iterator(chunk_size=20_000):
        yield customer_key(account_id=account_id, person_id=person_id), int(product_id)


def product_labels(ids: Sequence[int]) -> dict[int, str]:
    return dict(Product.objects.filter(pk__in=list(ids)).values_list("pk", "name"))
