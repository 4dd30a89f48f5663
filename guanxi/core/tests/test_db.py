"""`table_columns` reads whole columns the same way on SQLite and PostgreSQL."""

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from django.db import DatabaseError, connection, transaction

from guanxi.core.db import ColumnKind, table_columns, temporary_table

pytestmark = pytest.mark.django_db

TABLE = "guanxi_test_columns"


def _table(rows: Sequence[tuple[int, float | None, str]]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {TABLE} (n bigint, x double precision, label varchar(20))")
        for row in rows:
            cursor.execute(f"INSERT INTO {TABLE} (n, x, label) VALUES (%s, %s, %s)", list(row))  # noqa: S608  -- a fixed test table


COLUMNS: list[tuple[str, ColumnKind]] = [("n", "int64"), ("x", "float64"), ("label", "text")]


def test_columns_come_back_as_arrays_and_lists_in_one_row_order() -> None:
    rows = [(3, 1.5, "p3"), (-7, -0.25, ""), (2**40, 1e-300, "a12")]
    _table(rows)
    n, x, label = table_columns(TABLE, COLUMNS)
    assert n.dtype == np.int64
    assert x.dtype == np.float64
    got = sorted(zip(n.tolist(), x.tolist(), label, strict=True))
    assert got == sorted(rows)


def test_an_empty_table_gives_empty_columns() -> None:
    _table([])
    n, x, label = table_columns(TABLE, COLUMNS)
    assert (len(n), len(x), label) == (0, 0, [])


def test_a_null_is_an_error_naming_the_column() -> None:
    _table([(1, None, "p1"), (2, 2.0, "p2")])
    with pytest.raises(ValueError, match=r"\.x: "):
        table_columns(TABLE, COLUMNS)


def test_expressions_compute_a_column_from_the_row() -> None:
    _table([(3, 1.5, "p3"), (40, 2.0, "a40")])
    doubled, label = table_columns(TABLE, [("doubled", "int64"), ("label", "text")], expressions={"doubled": "n * 2"})
    assert sorted(zip(doubled.tolist(), label, strict=True)) == [(6, "p3"), (80, "a40")]


def _exists(name: str) -> bool:
    try:
        # A savepoint, so that PostgreSQL's failed statement leaves the test's transaction usable.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(name)}")  # noqa: S608  -- a fixed test name
    except DatabaseError:
        return False
    return True


def test_a_temporary_table_is_filled_replaced_and_dropped() -> None:
    def fill(cursor: Any, table: str) -> None:
        cursor.executemany(f"INSERT INTO {table} (n) VALUES (%s)", [(1,), (2,)])  # noqa: S608  -- a fixed test table

    with temporary_table("guanxi_test_temp", "(n bigint)", fill=fill) as name:
        (n,) = table_columns(name, [("n", "int64")])
        assert sorted(n.tolist()) == [1, 2]
        # A second one of the same name (a failed run's leftover) replaces it.
        with temporary_table("guanxi_test_temp", "AS SELECT 7 AS n") as again:
            (n,) = table_columns(again, [("n", "int64")])
            assert n.tolist() == [7]
    assert not _exists("guanxi_test_temp")
