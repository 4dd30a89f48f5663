"""Database helpers shared by the apps that outgrow Django's cursors on PostgreSQL."""

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper

if TYPE_CHECKING:
    import psycopg


@contextmanager
def server_binding_cursor(connection: BaseDatabaseWrapper = default_connection) -> Iterator["psycopg.Cursor[Any]"]:
    """A psycopg cursor on Django's own PostgreSQL connection, in its transaction, that binds
    parameters on the server.

    Django's psycopg cursors bind on the client: every call splits and quotes the statement in
    Python, which dominates a statement with thousands of parameters, and they cannot fetch
    binary results. Errors still become Django's and mark the connection as Django's own
    cursors would; statements run here are not in Django's query log (DEBUG, assertNumQueries).
    """
    import psycopg  # only installed where PostgreSQL is used

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


@contextmanager
def temporary_table(
    name: str,
    definition: str,
    *,
    fill: Callable[[Any, str], None] | None = None,
    connection: BaseDatabaseWrapper = default_connection,
) -> Iterator[str]:
    """A temporary table for the length of the block, for set-based steps that read each
    other's results: dropped first (a failed run in the same session may have left it),
    created from `definition` (a column list, or `AS SELECT …`; SQL written in code, never
    values from outside), filled by `fill(cursor, quoted name)` where given, analysed on
    PostgreSQL so the statements that read it are planned on its real size, and dropped at
    the end. Yields the name, unquoted."""
    table = connection.ops.quote_name(name)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} {definition}")
        if fill is not None:
            fill(cursor, table)
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {table}")
    try:
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


ColumnKind = Literal["int64", "float64", "text"]

# Joins the text values of a column on PostgreSQL: the ASCII unit separator, which no key,
# stage or other code-like value read this way contains (a value that did would be caught by
# the length check below).
_TEXT_SEPARATOR = "\x1f"


def table_columns(
    table: str,
    columns: Sequence[tuple[str, ColumnKind]],
    *,
    expressions: Mapping[str, str] | None = None,
    connection: BaseDatabaseWrapper = default_connection,
) -> list[Any]:
    """Whole NOT NULL columns of a table, numbers as NumPy arrays and text as lists of str, all
    in one row order.

    `expressions` computes a named column from the row instead of reading it, e.g. an id parsed
    out of a text key, which the database does far faster than Python per value. They are SQL
    written in code, for this vendor; never put a value from outside into one.

    Reading a million rows through a cursor builds a Python object per value, which costs
    seconds. On PostgreSQL each column instead arrives as one value: numbers packed by
    `int8send`/`float8send` into one big-endian buffer that NumPy reads as it is, text joined by
    a separator and split once. All aggregates of one query see the rows in the same order.
    """
    if not columns:
        raise ValueError("no columns to read")
    quote = connection.ops.quote_name
    computed = expressions or {}

    def value_of(name: str) -> str:
        return f"({computed[name]})" if name in computed else quote(name)

    if connection.vendor == "postgresql":
        packers = {"int64": "string_agg(int8send({}), '')", "float64": "string_agg(float8send({}), '')"}
        select = ", ".join(
            packers[kind].format(value_of(name))
            if kind in packers
            else f"string_agg({value_of(name)}, chr({ord(_TEXT_SEPARATOR)}))"
            for name, kind in columns
        )
        with server_binding_cursor(connection) as cursor:
            row = cursor.execute(f"SELECT count(*), {select} FROM {quote(table)}", binary=True).fetchone()  # noqa: S608  -- quoted names and expressions from code, no values
        if row is None:  # an aggregate without GROUP BY returns one row; this is for mypy
            raise RuntimeError(f"no row from reading {table}")
        count, values = int(row[0]), row[1:]
        result = [_unpack(value, kind) for value, (_name, kind) in zip(values, columns, strict=True)]
    else:
        with connection.cursor() as django_cursor:
            django_cursor.execute(f"SELECT {', '.join(value_of(name) for name, _kind in columns)} FROM {quote(table)}")  # noqa: S608  -- quoted names and expressions from code, no values
            rows = django_cursor.fetchall()
        count = len(rows)
        by_column = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        for (name, _kind), values in zip(columns, by_column, strict=True):
            if None in values:
                raise ValueError(f"{table}.{name}: NULL, which this read does not take")
        result = [
            [str(v) for v in values] if kind == "text" else np.asarray(values, dtype=np.dtype(kind))
            for values, (_name, kind) in zip(by_column, columns, strict=True)
        ]
    for (name, _kind), values in zip(columns, result, strict=True):
        if len(values) != count:
            raise ValueError(f"{table}.{name}: read {len(values)} values for {count} rows (a NULL or a separator?)")
    return result


def _unpack(value: Any, kind: ColumnKind) -> Any:
    if kind == "text":
        return [] if value is None else str(value).split(_TEXT_SEPARATOR)
    if value is None:
        return np.zeros(0, dtype=np.dtype(kind))
    return np.frombuffer(value, dtype=np.dtype(kind).newbyteorder(">")).astype(np.dtype(kind))
