"""The in-database summaries give the same exact numbers on SQLite, PostgreSQL and DuckDB.

The same small orders are loaded into each backend; the expected values are worked out by
hand below, and the RFM scores and cohort matrices must equal the NumPy functions' results.
PostgreSQL runs when DATABASE_URL (or ENGINE_POSTGRES_URL) points at one, as in the
project's PostgreSQL test run.
"""

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from typing import Any

import ibis  # type: ignore[import-untyped]  # ibis ships no py.typed marker
import numpy as np
import pytest

from guanxi.engine.cohorts import cohort_table
from guanxi.engine.rfm import rfm
from guanxi.engine.summaries import (
    PERIOD_COLUMNS,
    SUMMARY_COLUMNS,
    cohort_cells,
    cohort_table_from_cells,
    customer_summaries,
    day_number,
    fold_days,
    mark_seen,
    orders_table,
    purchase_days,
    purchase_periods,
    rfm_scores,
    summaries_from_periods,
    summaries_from_rows,
)

END = dt.datetime(2026, 3, 31, 23, 59, 59, tzinfo=dt.UTC)

ORDERS = [
    # customer, ordered at (UTC), amount
    ("c1", dt.datetime(2026, 1, 5, 10, 0), 10.0),
    ("c1", dt.datetime(2026, 1, 5, 15, 0), 5.0),  # same day: one purchase period of 15
    ("c1", dt.datetime(2026, 1, 20, 9, 0), 30.0),
    ("c1", dt.datetime(2026, 3, 1, 8, 0), 20.0),
    ("c2", dt.datetime(2026, 2, 10, 12, 0), 100.0),
    ("c3", dt.datetime(2026, 1, 31, 23, 30), 40.0),
    ("c3", dt.datetime(2026, 2, 1, 0, 10), 60.0),  # the next UTC day, 40 minutes later
    ("c4", dt.datetime(2026, 3, 31, 12, 0), 7.0),
    ("c4", dt.datetime(2026, 4, 2, 12, 0), 999.0),  # after the end of observation
    ("c5", dt.datetime(2026, 1, 10, 12, 0), 50.0),
    ("c5", dt.datetime(2026, 1, 11, 12, 0), 50.0),
]

# customer: frequency, recency, T, monetary value, order count, revenue, days since last
EXPECTED = {
    "c1": (2, 55, 85, 25.0, 4, 65.0, 30),
    "c2": (0, 0, 49, 0.0, 1, 100.0, 49),
    "c3": (1, 1, 59, 60.0, 2, 100.0, 58),
    "c4": (0, 0, 0, 0.0, 1, 7.0, 0),
    "c5": (1, 1, 80, 50.0, 2, 100.0, 79),
}


def _postgres_url() -> str | None:
    url = os.environ.get("ENGINE_POSTGRES_URL") or os.environ.get("DATABASE_URL") or ""
    return url if url.startswith(("postgres://", "postgresql://")) else None


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local Spark session (Spark in local mode, no cluster): the engine's big-data backend."""
    pyspark_sql = pytest.importorskip("pyspark.sql", reason="Spark runs where the `spark` extra is installed")
    session = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .appName("guanxi-engine-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(params=["sqlite", "duckdb", "postgres", "spark"])
def orders(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The ORDERS loaded into a table of the backend, as an Ibis table."""
    data = {
        "customer": [o[0] for o in ORDERS],
        "ordered_at": [o[1] for o in ORDERS],
        "amount": [o[2] for o in ORDERS],
    }
    schema = ibis.schema({"customer": "string", "ordered_at": "timestamp", "amount": "float64"})
    name = f"orders_{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        con = ibis.sqlite.connect()
    elif request.param == "duckdb":
        con = ibis.duckdb.connect()
    elif request.param == "spark":
        con = ibis.pyspark.connect(request.getfixturevalue("spark"))
    else:
        url = _postgres_url()
        if url is None:
            pytest.skip("PostgreSQL runs with DATABASE_URL=postgres://...")
        con = ibis.connect(url.replace("postgresql://", "postgres://", 1))
    table = con.create_table(name, ibis.memtable(data, schema=schema), temp=request.param == "postgres")
    yield table  # in-memory and temporary tables go with the connection
    if request.param != "spark":  # disconnecting would stop the Spark session the other tests share
        con.disconnect()


def _rows(expr: Any) -> list[tuple[Any, ...]]:
    return [tuple(row.values()) for row in expr.to_pyarrow().to_pylist()]


def test_day_number_counts_utc_days() -> None:
    assert day_number(dt.datetime(1970, 1, 2, 0, 0, tzinfo=dt.UTC)) == 1
    assert day_number(dt.date(2026, 3, 31)) - day_number(dt.date(2026, 1, 5)) == 85
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert day_number(dt.datetime(2026, 1, 2, 7, 0, tzinfo=shanghai)) == day_number(dt.date(2026, 1, 1))


def test_customer_summaries_match_the_lifetimes_convention(orders: Any) -> None:
    rows = _rows(customer_summaries(orders, end=END).select(*SUMMARY_COLUMNS))
    got = {row[0]: (*row[1:8], row[9]) for row in rows}
    assert set(got) == set(EXPECTED)
    for customer, (freq, rec, age, money, count, revenue, since) in EXPECTED.items():
        f, r, t, m, n, rev, _first_day, s = got[customer]
        assert (int(f), int(r), int(t), int(n), int(s)) == (freq, rec, age, count, since), customer
        assert float(m) == pytest.approx(money, abs=1e-9), customer
        assert float(rev) == pytest.approx(revenue, abs=1e-9), customer
    first = {row[0]: int(row[7]) for row in rows}
    assert first["c1"] == day_number(dt.date(2026, 1, 5))
    last = {row[0]: int(row[8]) for row in rows}
    assert last["c4"] == day_number(dt.date(2026, 3, 31))


def test_rfm_scores_in_the_database_equal_the_numpy_scores(orders: Any) -> None:
    scored = rfm_scores(customer_summaries(orders, end=END))
    rows = sorted(
        _rows(
            scored.select(
                "customer",
                "days_since_last",
                "order_count",
                "revenue",
                "recency_score",
                "frequency_score",
                "monetary_score",
                "fm_score",
                "segment",
            )
        )
    )
    expected = rfm([r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
    assert [int(r[4]) for r in rows] == expected.recency_score.tolist()
    assert [int(r[5]) for r in rows] == expected.frequency_score.tolist()
    assert [int(r[6]) for r in rows] == expected.monetary_score.tolist()
    assert [int(r[7]) for r in rows] == expected.fm_score.tolist()
    assert [r[8] for r in rows] == expected.segment_keys()
    # Worked by hand: revenue 100 is shared by c2, c3, c5 (one score, 1 + 5*2//5 = 3).
    assert {r[0]: int(r[6]) for r in rows} == {"c1": 2, "c2": 3, "c3": 3, "c4": 1, "c5": 3}
    assert {r[0]: int(r[4]) for r in rows} == {"c1": 4, "c2": 3, "c3": 2, "c4": 5, "c5": 1}


def _periods(expr: Any) -> dict[str, tuple[Any, ...]]:
    return {
        row[0]: (int(row[1]), int(row[2]), int(row[3]), int(row[4]), round(float(row[5]), 6), round(float(row[6]), 6))
        for row in _rows(expr.select(*PERIOD_COLUMNS))
    }


# c6 bought on three days, twice on the middle one: a back-dated order can land on a day
# the store already counts.
C6 = [
    ("c6", dt.datetime(2026, 2, 1, 12, 0), 10.0),
    ("c6", dt.datetime(2026, 2, 10, 9, 0), 20.0),
    ("c6", dt.datetime(2026, 2, 10, 18, 0), 5.0),
    ("c6", dt.datetime(2026, 2, 20, 12, 0), 8.0),
]


def _at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> Any:
    return ibis.timestamp(dt.datetime(year, month, day, hour, minute))


ARRIVING_LATER = {
    # orders arriving in time order, cut at a moment
    "cut on c1's first day": lambda o: o.ordered_at >= _at(2026, 1, 5, 12),
    "cut before c1's new period": lambda o: o.ordered_at >= _at(2026, 1, 20, 12),
    "cut inside c1's stored last day": lambda o: o.ordered_at >= _at(2026, 3, 1, 8),
    # back-dated orders, arriving after later ones were stored
    "c1 back-dated to a day it did not buy": (lambda o: (o.customer == "c1") & (o.amount == 30.0)),
    "c1 back-dated onto its stored first day": (lambda o: (o.customer == "c1") & (o.amount == 5.0)),
    "c1's whole first day back-dated": (lambda o: (o.customer == "c1") & (o.ordered_at < _at(2026, 1, 6))),
    "c6 back-dated onto a stored day inside": (lambda o: (o.customer == "c6") & (o.amount == 5.0)),
    "c5 back-dated before its only stored day": (lambda o: (o.customer == "c5") & (o.ordered_at < _at(2026, 1, 11))),
    "several kinds at once": (
        lambda o: (
            ((o.customer == "c1") & (o.amount == 30.0))
            | ((o.customer == "c6") & (o.amount == 20.0))
            | ((o.customer == "c3") & (o.amount == 40.0))
            | (o.customer == "c2")
            | (o.ordered_at >= _at(2026, 3, 1))
        )
    ),
}


@pytest.mark.parametrize("arriving_later", list(ARRIVING_LATER), ids=list(ARRIVING_LATER))
def test_folded_days_equal_the_periods_of_all_orders(orders: Any, arriving_later: str) -> None:
    """Periods stored from some orders, with the rest folded in as new purchase days, equal
    the periods computed from every order, whatever days the later orders fall on."""
    extra = ibis.memtable(
        {"customer": [o[0] for o in C6], "ordered_at": [o[1] for o in C6], "amount": [o[2] for o in C6]},
        schema=ibis.schema({"customer": "string", "ordered_at": "timestamp", "amount": "float64"}),
    )
    every = orders.union(extra.cast(orders.schema()))
    later = ARRIVING_LATER[arriving_later](every)
    before, added = every.filter(~later), every.filter(later)
    days = mark_seen(purchase_days(added), purchase_days(before))
    folded = _periods(fold_days(purchase_periods(before), days))
    everything = _periods(purchase_periods(every))
    added_customers = {row[0] for row in _rows(added.select("customer"))}
    assert added_customers
    assert set(folded) == added_customers
    assert folded == {customer: everything[customer] for customer in added_customers}


def test_seen_marks_only_days_the_customer_already_bought(orders: Any) -> None:
    later = (orders.customer == "c1") & (orders.amount.isin([5.0, 30.0]))  # 5 Jan (seen), 20 Jan (new)
    days = mark_seen(purchase_days(orders.filter(later)), purchase_days(orders.filter(~later)))
    seen = {
        int(row[1]): bool(row[4]) for row in _rows(days.select("customer", "day", "day_amount", "day_orders", "seen"))
    }
    assert seen == {day_number(dt.date(2026, 1, 5)): True, day_number(dt.date(2026, 1, 20)): False}


def test_summaries_from_stored_periods_equal_the_summaries_in_the_database(orders: Any) -> None:
    rows = _rows(purchase_periods(orders, end=END).select(*PERIOD_COLUMNS))
    from_periods = summaries_from_periods(list(zip(*rows, strict=True)), end=END)
    in_database = summaries_from_rows(_rows(customer_summaries(orders, end=END).select(*SUMMARY_COLUMNS)))
    assert from_periods.customer == in_database.customer == ["c1", "c2", "c3", "c4", "c5"]
    for name in SUMMARY_COLUMNS[1:]:
        np.testing.assert_allclose(getattr(from_periods, name), getattr(in_database, name), err_msg=name)


def test_summaries_from_periods_follow_a_given_order_of_the_keys() -> None:
    columns: list[list[Any]] = [
        ["p9", "p10", "a3"],
        [1, 2, 3],
        [10, 11, 12],
        [20, 21, 22],
        [1, 2, 3],
        [5.0, 6.0, 7.0],
        [0.0, 1.0, 2.0],
    ]
    sorted_by_strings = summaries_from_periods(columns, end=END)
    given = summaries_from_periods(columns, end=END, order=np.array([2, 1, 0], dtype=np.int64))
    assert sorted_by_strings.customer == given.customer == ["a3", "p10", "p9"]
    assert given.order_count.tolist() == [3, 2, 1]
    with pytest.raises(ValueError, match="an order of 2 positions for 3 customers"):
        summaries_from_periods(columns, end=END, order=np.array([0, 1], dtype=np.int64))


def test_cohort_cells_equal_the_numpy_cohort_table(orders: Any) -> None:
    in_window = [o for o in ORDERS if o[1] <= END.replace(tzinfo=None)]
    table = cohort_table_from_cells(
        _rows(cohort_cells(orders, end=END).select("cohort", "period", "customers", "revenue"))
    )
    expected = cohort_table(
        [o[0] for o in in_window], [o[1].date().isoformat() for o in in_window], [o[2] for o in in_window]
    )
    assert [str(m) for m in table.months] == ["2026-01", "2026-02", "2026-03"]
    assert table.months.tolist() == expected.months.tolist()
    assert table.sizes.tolist() == expected.sizes.tolist() == [3, 1, 1]
    assert table.active.tolist() == expected.active.tolist()
    np.testing.assert_allclose(table.revenue, expected.revenue)
    assert table.observed.tolist() == expected.observed.tolist()


def test_compiled_sql_runs_through_a_plain_dbapi_cursor() -> None:
    """The app runs the compiled SQL on its own connection; the unbound table compiles per dialect."""
    import sqlite3

    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE orders (customer TEXT, ordered_at TEXT, amount REAL)")
    con.executemany(
        "INSERT INTO orders VALUES (?, ?, ?)", [(c, at.strftime("%Y-%m-%d %H:%M:%S.%f"), a) for c, at, a in ORDERS]
    )
    sql = ibis.to_sql(customer_summaries(orders_table(), end=END).select(*SUMMARY_COLUMNS), dialect="sqlite")
    summaries = summaries_from_rows(con.execute(str(sql)).fetchall())
    assert summaries.customer == ["c1", "c2", "c3", "c4", "c5"]
    assert summaries.frequency.tolist() == [2, 0, 1, 0, 1]
    assert summaries.T.tolist() == [85, 49, 59, 0, 80]
    assert summaries.monetary_value.tolist() == [25.0, 0.0, 60.0, 0.0, 50.0]
    assert summaries.order_count.tolist() == [4, 1, 2, 1, 2]


def test_empty_rows_give_empty_arrays() -> None:
    assert len(summaries_from_rows([])) == 0
    assert cohort_table_from_cells([]).sizes.tolist() == []
