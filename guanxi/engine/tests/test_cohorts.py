"""Cohort retention and revenue matrices."""

import numpy as np
import pytest

from guanxi.engine.cohorts import cohort_table


def test_retention_and_revenue_by_first_purchase_month() -> None:
    rows = [
        # customer, date, amount
        ("c1", "2026-01-05", 10.0),
        ("c1", "2026-01-20", 5.0),  # same month: one active customer, both amounts count
        ("c1", "2026-03-02", 7.0),
        ("c2", "2026-01-31", 20.0),
        ("c2", "2026-02-01", 1.0),
        ("c3", "2026-02-14", 8.0),
        ("c3", "2026-03-01", 2.0),
        ("c4", "2026-03-31", 4.0),
    ]
    table = cohort_table([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    assert [str(m) for m in table.months] == ["2026-01", "2026-02", "2026-03"]
    assert table.sizes.tolist() == [2, 1, 1]
    assert table.active.tolist() == [[2, 1, 1], [1, 1, 0], [1, 0, 0]]
    assert table.revenue.tolist() == [[35.0, 1.0, 7.0], [8.0, 2.0, 0.0], [4.0, 0.0, 0.0]]
    assert table.observed.tolist() == [[True, True, True], [True, True, False], [True, False, False]]
    retention = table.retention
    assert retention[0].tolist() == [1.0, 0.5, 0.5]
    assert retention[1, :2].tolist() == [1.0, 1.0]
    assert np.isnan(retention[1, 2])
    assert table.cumulative_revenue_per_customer[0].tolist() == [17.5, 18.0, 21.5]


def test_unsorted_input_and_numeric_ids_give_the_same_table() -> None:
    ids = np.array([5, 9, 5, 9])
    dates = np.array(["2025-12-31", "2026-01-01", "2026-02-10", "2025-12-01"], dtype="datetime64[D]")
    table = cohort_table(ids, dates, [1.0, 2.0, 3.0, 4.0])
    assert table.sizes.tolist() == [2]
    assert table.active.tolist() == [[2, 1, 1]]
    assert table.revenue.tolist() == [[5.0, 2.0, 3.0]]


def test_empty_and_bad_input() -> None:
    assert cohort_table([], np.array([], dtype="datetime64[D]"), []).sizes.tolist() == []
    with pytest.raises(ValueError, match="differ in length"):
        cohort_table([1], ["2026-01-01", "2026-01-02"], [1.0])
