"""Cohorts: retention and revenue by first-purchase month.

A customer's cohort is the calendar month of their first purchase; period k is the k-th month
after it (0 = the cohort month itself). Months rather than 30-day steps, because that is how
the business reads a cohort chart. Cells after the last month in the data are not observed yet
and are marked so, rather than shown as zero retention.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from guanxi.engine._arrays import FloatArray, IntArray, as_float_vector, same_length

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class CohortTable:
    months: npt.NDArray[np.datetime64]
    """First-purchase month of each cohort (datetime64[M]), ascending."""
    sizes: IntArray
    """Customers in each cohort."""
    active: IntArray
    """(cohorts, periods): distinct customers of the cohort who bought in period k."""
    revenue: FloatArray
    """(cohorts, periods): the cohort's revenue in period k."""
    observed: BoolArray
    """(cohorts, periods): False where period k lies after the last month in the data."""

    @property
    def retention(self) -> FloatArray:
        """Share of each cohort buying in period k; NaN where not observed yet."""
        share = self.active / np.maximum(self.sizes, 1)[:, None]
        return np.where(self.observed, share, np.nan)

    @property
    def cumulative_revenue_per_customer(self) -> FloatArray:
        """Revenue to date per cohort member, by period; NaN where not observed yet."""
        per_customer = np.cumsum(self.revenue, axis=1) / np.maximum(self.sizes, 1)[:, None]
        return np.where(self.observed, per_customer, np.nan)


def cohort_table(customer_ids: npt.ArrayLike, dates: npt.ArrayLike, amounts: npt.ArrayLike) -> CohortTable:
    """Build the cohort matrices from one row per purchase (customer, date, amount)."""
    customers = np.asarray(customer_ids)
    months = np.asarray(dates, dtype="datetime64[D]").astype("datetime64[M]")
    money = as_float_vector("amounts", amounts)
    if customers.ndim != 1 or months.ndim != 1:
        raise ValueError("customer_ids and dates must be one-dimensional")
    same_length(customer_ids=customers, dates=months, amounts=money)
    if np.any(np.isnat(months)):
        raise ValueError("dates must not be missing")
    if len(customers) == 0:
        empty = np.zeros((0, 0), dtype=np.int64)
        return CohortTable(
            np.zeros(0, dtype="datetime64[M]"),
            np.zeros(0, dtype=np.int64),
            empty,
            empty.astype(float),
            empty.astype(bool),
        )
    _, customer = np.unique(customers, return_inverse=True)
    month = months.astype(np.int64)  # months since 1970-01
    first = np.full(int(customer.max()) + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, customer, month)
    cohort_month = first[customer]
    period = month - cohort_month
    cohort_values, cohort_of_customer = np.unique(first, return_inverse=True)
    n_cohorts = len(cohort_values)
    n_periods = int(month.max() - cohort_values.min()) + 1
    row = cohort_of_customer[customer]
    cell = row * n_periods + period
    revenue = np.bincount(cell, weights=money, minlength=n_cohorts * n_periods).reshape(n_cohorts, n_periods)
    # Distinct (customer, period) pairs, then counted per cell.
    pair = np.unique(customer.astype(np.int64) * n_periods + period)
    pair_customer, pair_period = pair // n_periods, pair % n_periods
    active_cells = cohort_of_customer[pair_customer] * n_periods + pair_period
    active = np.bincount(active_cells, minlength=n_cohorts * n_periods).reshape(n_cohorts, n_periods)
    sizes = np.bincount(cohort_of_customer, minlength=n_cohorts)
    last = int(month.max())
    observed = (cohort_values[:, None] + np.arange(n_periods)[None, :]) <= last
    return CohortTable(
        months=cohort_values.astype("datetime64[M]"),
        sizes=sizes.astype(np.int64),
        active=active.astype(np.int64),
        revenue=revenue,
        observed=observed,
    )
