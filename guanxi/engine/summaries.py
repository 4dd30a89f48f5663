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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis  # type: ignore[import-untyped]  # ibis ships no py.typed marker; expressions are typed Any
import numpy as np

from guanxi.engine.cohorts import CohortTable
from guanxi.engine.rfm import BINS, SEGMENT_RULES, SegmentRule

__all__ = [
    "ORDER_SCHEMA",
    "PERIOD_COLUMNS",
    "PERIOD_SCHEMA",
    "SUMMARY_COLUMNS",
    "CustomerSummaries",
    "cohort_cells",
    "cohort_table_from_cells",
    "customer_summaries",
    "day_number",
    "merge_periods",
    "orders_table",
    "periods_table",
    "purchase_periods",
    "rfm_scores",
    "summaries_at",
    "summaries_from_periods",
    "summaries_from_rows",
]

#: What the engine needs of an order; a caller renames or derives its columns to these.
ORDER_SCHEMA: Mapping[str, str] = {"customer": "string", "ordered_at": "timestamp", "amount": "float64"}

#: What `purchase_periods` keeps per customer: the totals that new orders only add to.
PERIOD_SCHEMA: Mapping[str, str] = {
    "customer": "string",
    "periods": "int64",
    "first_day": "int64",
    "last_day": "int64",
    "order_count": "int64",
    "revenue": "float64",
    "repeat_revenue": "float64",
}
PERIOD_COLUMNS: tuple[str, ...] = tuple(PERIOD_SCHEMA)

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


def purchase_periods(orders: Table, *, end: dt.datetime | None = None) -> Table:
    """One row per customer with `PERIOD_COLUMNS`: what the summaries need, without `end`.

    These totals only grow as orders are added after a customer's last purchase day, so a
    store of them can be kept current from new orders alone (`merge_periods`); everything that
    depends on the end of observation is derived from them at scoring time (`summaries_at`).
    """
    timed = _with_day(orders) if end is None else _until(orders, end)
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
    return per.select(
        customer=per.customer,
        periods=per.periods.cast("int64"),
        first_day=per.first_day.cast("int64"),
        last_day=per.last_day.cast("int64"),
        order_count=per.order_count,
        revenue=per.revenue.cast("float64"),
        repeat_revenue=per.repeat_revenue.fill_null(0).cast("float64"),
    )


def periods_table(name: str) -> Table:
    """An unbound table with `PERIOD_SCHEMA`, e.g. a store of `purchase_periods` rows."""
    return ibis.table(dict(PERIOD_SCHEMA), name=name)


def merge_periods(old: Table, new: Table) -> Table:
    """Stored periods with the periods of orders added since folded in: `PERIOD_COLUMNS` plus
    `late`, one row per customer of `new`.

    The fold is exact when every new order falls on or after the customer's stored last day,
    which is how orders arrive. A new order on that last day joins its period; one on the
    customer's very first day is not repeat spend. A customer whose new orders reach back
    before the stored last day cannot be folded: `late` is true and the caller recomputes that
    customer from all their orders.
    """
    joined = new.left_join(old, new.customer == old.customer, rname="{name}_old")
    has_old = joined.periods_old.notnull()
    same_day = has_old & (joined.first_day == joined.last_day_old)
    first_day_spend = joined.revenue - joined.repeat_revenue  # the new orders' own first day
    return joined.select(
        customer=joined.customer,
        periods=ibis.ifelse(
            has_old, joined.periods_old + joined.periods - ibis.ifelse(same_day, 1, 0), joined.periods
        ).cast("int64"),
        first_day=ibis.ifelse(has_old, joined.first_day_old, joined.first_day).cast("int64"),
        last_day=joined.last_day.cast("int64"),
        order_count=(joined.order_count_old.fill_null(0) + joined.order_count).cast("int64"),
        revenue=(joined.revenue_old.fill_null(0.0) + joined.revenue).cast("float64"),
        repeat_revenue=ibis.ifelse(
            has_old,
            joined.repeat_revenue_old
            + joined.revenue
            - ibis.ifelse(joined.first_day == joined.first_day_old, first_day_spend, 0.0),
            joined.repeat_revenue,
        ).cast("float64"),
        late=has_old & (joined.first_day < joined.last_day_old),
    )


def summaries_at(periods: Table, *, end: dt.datetime) -> Table:
    """`SUMMARY_COLUMNS` from `purchase_periods` rows, as seen at `end`."""
    end_day = day_number(end)
    frequency = (periods.periods - 1).cast("int64")
    return periods.select(
        customer=periods.customer,
        frequency=frequency,
        recency=(periods.last_day - periods.first_day).cast("int64"),
        T=(ibis.literal(end_day) - periods.first_day).cast("int64"),
        monetary_value=ibis.ifelse(frequency > 0, periods.repeat_revenue / frequency, 0.0).cast("float64"),
        order_count=periods.order_count,
        revenue=periods.revenue.cast("float64"),
        first_day=periods.first_day.cast("int64"),
        last_day=periods.last_day.cast("int64"),
        days_since_last=(ibis.literal(end_day) - periods.last_day).cast("int64"),
    )


def customer_summaries(orders: Table, *, end: dt.datetime) -> Table:
    """One row per customer with `SUMMARY_COLUMNS`, over orders placed up to `end` (inclusive).

    `order_count` and `revenue` count every order; frequency, recency, T and monetary value
    count purchase days, as the BG/NBD and Gamma-Gamma models expect.
    """
    return summaries_at(purchase_periods(orders, end=end), end=end)


def summaries_from_periods(columns: Sequence[Sequence[Any]], *, end: dt.datetime) -> "CustomerSummaries":
    """`summaries_at` in NumPy, from `PERIOD_COLUMNS` given as columns (e.g. `zip(*rows)`).

    For a store of periods read whole: converting a million rows column by column is far
    cheaper than row by row, and the arithmetic is the same integer arithmetic as in SQL.
    """
    if len(columns) != len(PERIOD_COLUMNS):
        raise ValueError(f"expected the {len(PERIOD_COLUMNS)} columns {PERIOD_COLUMNS}, got {len(columns)}")
    customer = [str(v) for v in columns[0]]
    take = _by_customer(customer)

    def column(i: int, dtype: type[np.int64] | type[np.float64]) -> Any:
        return np.asarray(columns[i], dtype=dtype)[take] if len(take) else np.zeros(0, dtype=dtype)

    periods = column(1, np.int64)
    first_day, last_day = column(2, np.int64), column(3, np.int64)
    repeat_revenue = column(6, np.float64)
    end_day = day_number(end)
    frequency = (periods - 1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.where(frequency > 0, repeat_revenue / np.where(frequency > 0, frequency, 1.0), 0.0)
    return CustomerSummaries(
        customer=[customer[i] for i in take.tolist()],
        frequency=frequency,
        recency=(last_day - first_day).astype(np.float64),
        T=(end_day - first_day).astype(np.float64),
        monetary_value=monetary,
        order_count=column(4, np.int64),
        revenue=column(5, np.float64),
        first_day=first_day,
        last_day=last_day,
        days_since_last=(end_day - last_day).astype(np.int64),
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

    def take(self, index: np.ndarray[Any, np.dtype[np.intp]]) -> "CustomerSummaries":
        """The customers at these positions, in that order."""
        positions = index.tolist()
        return CustomerSummaries(
            customer=[self.customer[i] for i in positions],
            frequency=self.frequency[index],
            recency=self.recency[index],
            T=self.T[index],
            monetary_value=self.monetary_value[index],
            order_count=self.order_count[index],
            revenue=self.revenue[index],
            first_day=self.first_day[index],
            last_day=self.last_day[index],
            days_since_last=self.days_since_last[index],
        )


def _by_customer(customer: list[str]) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Positions that sort by customer key (code point order, as Python sorts strings)."""
    if not customer:
        return np.zeros(0, dtype=np.int64)
    return np.argsort(np.asarray(customer, dtype=np.str_), kind="stable").astype(np.int64)


def summaries_from_rows(rows: Iterable[Iterable[Any]]) -> CustomerSummaries:
    """Arrays from rows in `SUMMARY_COLUMNS` order (e.g. a cursor's fetchall), sorted by customer."""
    data = [tuple(row) for row in rows]
    columns = list(zip(*data, strict=True)) if data else [() for _ in SUMMARY_COLUMNS]
    customer = [str(v) for v in columns[0]]
    take = _by_customer(customer)

    def floats(i: int) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.asarray(columns[i], dtype=np.float64)[take] if data else np.zeros(0, dtype=np.float64)

    def ints(i: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        return np.asarray(columns[i], dtype=np.int64)[take] if data else np.zeros(0, dtype=np.int64)

    return CustomerSummaries(
        customer=[customer[i] for i in take.tolist()],
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
