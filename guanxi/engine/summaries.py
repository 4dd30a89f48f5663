"""Per-customer summaries computed inside the database, as portable Ibis expressions.

Model fitting needs one row per customer, while the orders behind those rows may number tens
of millions: moving them into Python would cost more than the fit. So the set-based part is
written once as Ibis expressions over an orders table (customer key, order timestamp, amount)
and compiled by Ibis to the SQL of whatever runs it: the app's SQLite or PostgreSQL, DuckDB, or
Spark. Only the summaries come back (`docs/adr/0004-in-database-summaries.md`).

Conventions follow `lifetimes` (`summary_data_from_transaction_data`, freq="D"): purchases on
the same UTC day are one purchase period; `frequency` is the number of periods after the first
(repeat purchase days), `recency` the days from the first to the last period, `T` the days from
the first period to the end of observation, and `monetary_value` the mean spend of the repeat
periods (0 without repeats). Days are whole days since 1970-01-01 (UTC), so every backend does
integer arithmetic and no timestamp text format decides a result.

RFM scores are computed here with the same rule as `guanxi.engine.rfm.quintile_scores`:
1 + floor(5 * worse / n), `worse` being the customers strictly worse, i.e. `rank()` over the
measure. A plain `ntile(5)` would split customers with equal values between two scores
depending on row order; rank keeps ties together, so the database and NumPy agree exactly.

Cancelled and returned orders are the caller's to filter out before calling.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import ibis  # type: ignore[import-untyped]  # ibis ships no py.typed marker; expressions are typed Any
import numpy as np

from guanxi.engine.cohorts import CohortTable
from guanxi.engine.rfm import BINS, SEGMENT_RULES, SegmentRule

__all__ = [
    "ORDER_SCHEMA",
    "SUMMARY_COLUMNS",
    "CustomerSummaries",
    "cohort_cells",
    "cohort_table_from_cells",
    "customer_summaries",
    "day_number",
    "orders_table",
    "rfm_scores",
    "summaries_from_rows",
]

#: What the engine needs of an order; a caller renames or derives its columns to these.
ORDER_SCHEMA: Mapping[str, str] = {"customer": "string", "ordered_at": "timestamp", "amount": "float64"}

SUMMARY_COLUMNS: tuple[str, ...] = (
    "customer",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "order_count",
    "revenue",
    "first_day",
    "last_day",
    "days_since_last",
)

Table = Any
"""An Ibis table expression (Ibis has no type information for mypy)."""

_SECONDS_PER_DAY = 86400
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def orders_table(name: str = "orders") -> Table:
    """An unbound orders table with `ORDER_SCHEMA`, to build expressions and compile them to SQL."""
    return ibis.table(dict(ORDER_SCHEMA), name=name)


def day_number(moment: dt.datetime | dt.date) -> int:
    """Whole UTC days since 1970-01-01, the unit every summary is counted in."""
    if isinstance(moment, dt.datetime):
        aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        return int((aware - _EPOCH).total_seconds() // _SECONDS_PER_DAY)
    return (moment - _EPOCH.date()).days


def _with_day(orders: Table) -> Table:
    seconds = orders.ordered_at.epoch_seconds()
    return orders.mutate(
        _seconds=seconds,
        day=(seconds // _SECONDS_PER_DAY).cast("int64"),
        amount=orders.amount.cast("float64"),
    )


def customer_summaries(orders: Table, *, end: dt.datetime) -> Table:
    """One row per customer with `SUMMARY_COLUMNS`, over orders placed up to `end` (inclusive).

    `order_count` and `revenue` count every order; frequency, recency, T and monetary value
    count purchase days, as the BG/NBD and Gamma-Gamma models expect.
    """
    end_day = day_number(end)
    timed = _until(orders, end)
    days = timed.group_by(["customer", "day"]).aggregate(day_amount=timed.amount.sum(), day_orders=timed.count())
    days = days.mutate(first_day=days.day.min().over(group_by=days.customer))
    per = days.group_by("customer").aggregate(
        periods=days.count(),
        first_day=days.day.min(),
        last_day=days.day.max(),
        order_count=days.day_orders.sum().cast("int64"),
        revenue=days.day_amount.sum(),
        repeat_revenue=days.day_amount.sum(where=days.day > days.first_day),
    )
    frequency = (per.periods - 1).cast("int64")
    return per.select(
        customer=per.customer,
        frequency=frequency,
        recency=(per.last_day - per.first_day).cast("int64"),
        T=(ibis.literal(end_day) - per.first_day).cast("int64"),
        monetary_value=ibis.ifelse(frequency > 0, per.repeat_revenue.fill_null(0) / frequency, 0.0).cast("float64"),
        order_count=per.order_count,
        revenue=per.revenue.cast("float64"),
        first_day=per.first_day.cast("int64"),
        last_day=per.last_day.cast("int64"),
        days_since_last=(ibis.literal(end_day) - per.last_day).cast("int64"),
    )


def _quintile(worse: Any, n: Any, bins: int) -> Any:
    return (1 + (bins * worse) // n).cast("int64")


def rfm_scores(summaries: Table, *, rules: tuple[SegmentRule, ...] = SEGMENT_RULES, bins: int = BINS) -> Table:
    """Add recency/frequency/monetary scores 1..bins, the FM score and the segment key.

    Recency is `days_since_last` (fewer is better), frequency `order_count`, monetary `revenue`,
    as `guanxi.engine.rfm.rfm` takes them.
    """
    n = summaries.count().over()
    r = _quintile(ibis.rank().over(order_by=ibis.desc(summaries.days_since_last)), n, bins)
    f = _quintile(ibis.rank().over(order_by=summaries.order_count), n, bins)
    m = _quintile(ibis.rank().over(order_by=summaries.revenue), n, bins)
    scored = summaries.mutate(recency_score=r, frequency_score=f, monetary_score=m)
    scored = scored.mutate(fm_score=((scored.frequency_score + scored.monetary_score + 1) // 2).cast("int64"))
    branches = [
        (
            scored.recency_score.between(rule.recency[0], rule.recency[1])
            & scored.fm_score.between(rule.frequency_monetary[0], rule.frequency_monetary[1]),
            rule.key,
        )
        for rule in rules
    ]
    return scored.mutate(segment=ibis.cases(*branches, else_=""))


def _until(orders: Table, end: dt.datetime) -> Table:
    end_seconds = int((end if end.tzinfo else end.replace(tzinfo=dt.UTC)).timestamp())
    timed = _with_day(orders)
    return timed.filter(timed._seconds <= end_seconds)


def cohort_cells(orders: Table, *, end: dt.datetime) -> Table:
    """Per (first-purchase month, months since it): distinct buying customers and revenue.

    Months are counted as year * 12 + month - 1, so the arithmetic is integer on every backend.
    """
    timed = _until(orders, end)
    month = (timed.ordered_at.year() * 12 + timed.ordered_at.month() - 1).cast("int64")
    monthly = timed.mutate(month=month)
    monthly = monthly.mutate(cohort=monthly.month.min().over(group_by=monthly.customer))
    monthly = monthly.mutate(period=monthly.month - monthly.cohort)
    return monthly.group_by(["cohort", "period"]).aggregate(
        customers=monthly.customer.nunique().cast("int64"), revenue=monthly.amount.sum()
    )


def cohort_table_from_cells(rows: Iterable[tuple[int, int, int, float]]) -> CohortTable:
    """Turn `cohort_cells` rows (cohort, period, customers, revenue) into the engine's CohortTable.

    Every customer buys in their cohort month, so a cohort's size is its period-0 count.
    """
    cells = sorted((int(c), int(p), int(n), float(v)) for c, p, n, v in rows)
    if not cells:
        empty = np.zeros((0, 0), dtype=np.int64)
        return CohortTable(
            np.zeros(0, dtype="datetime64[M]"),
            np.zeros(0, dtype=np.int64),
            empty,
            empty.astype(float),
            empty.astype(bool),
        )
    cohorts = np.array(sorted({c for c, *_ in cells}), dtype=np.int64)
    last = max(c + p for c, p, *_ in cells)
    n_periods = int(last - cohorts.min()) + 1
    row_of = {int(c): i for i, c in enumerate(cohorts)}
    active = np.zeros((len(cohorts), n_periods), dtype=np.int64)
    revenue = np.zeros((len(cohorts), n_periods))
    for c, p, n, v in cells:
        active[row_of[c], p] = n
        revenue[row_of[c], p] = v
    observed = (cohorts[:, None] + np.arange(n_periods)[None, :]) <= last
    months = (cohorts - (1970 * 12)).astype("datetime64[M]")
    return CohortTable(months=months, sizes=active[:, 0].copy(), active=active, revenue=revenue, observed=observed)


@dataclass(frozen=True, slots=True)
class CustomerSummaries:
    """The summaries as arrays, in the engine's units (days), ready for the model fits."""

    customer: list[str]
    frequency: np.ndarray[Any, np.dtype[np.float64]]
    recency: np.ndarray[Any, np.dtype[np.float64]]
    T: np.ndarray[Any, np.dtype[np.float64]]
    monetary_value: np.ndarray[Any, np.dtype[np.float64]]
    order_count: np.ndarray[Any, np.dtype[np.int64]]
    revenue: np.ndarray[Any, np.dtype[np.float64]]
    first_day: np.ndarray[Any, np.dtype[np.int64]]
    last_day: np.ndarray[Any, np.dtype[np.int64]]
    days_since_last: np.ndarray[Any, np.dtype[np.int64]]

    def __len__(self) -> int:
        return len(self.customer)


def summaries_from_rows(rows: Iterable[Iterable[Any]]) -> CustomerSummaries:
    """Arrays from rows in `SUMMARY_COLUMNS` order (e.g. a cursor's fetchall), sorted by customer."""
    data = sorted((tuple(row) for row in rows), key=lambda row: str(row[0]))
    columns = list(zip(*data, strict=True)) if data else [() for _ in SUMMARY_COLUMNS]

    def floats(i: int) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.asarray([float(v) for v in columns[i]], dtype=np.float64)

    def ints(i: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        return np.asarray([int(v) for v in columns[i]], dtype=np.int64)

    return CustomerSummaries(
        customer=[str(v) for v in columns[0]],
        frequency=floats(1),
        recency=floats(2),
        T=floats(3),
        monetary_value=floats(4),
        order_count=ints(5),
        revenue=floats(6),
        first_day=ints(7),
        last_day=ints(8),
        days_since_last=ints(9),
    )
