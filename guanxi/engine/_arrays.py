"""Input checking and row compression shared by the model modules."""

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def as_float_vector(name: str, values: npt.ArrayLike) -> FloatArray:
    """Return `values` as a finite 1-D float64 array, or raise ValueError naming the input.

    The models take summaries straight from a database query; a NaN or a 2-D column there is a
    bug upstream that must fail loudly, not turn into a silently wrong fit.
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def same_length(**arrays: npt.NDArray[Any]) -> int:
    """Return the common length of the arrays, or raise ValueError listing each length."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs differ in length: {lengths}")
    return next(iter(lengths.values()), 0)


def weights_or_ones(weights: npt.ArrayLike | None, n: int) -> FloatArray:
    """Per-row weights (how many identical customers a row stands for); ones when not given."""
    if weights is None:
        return np.ones(n, dtype=np.float64)
    w = as_float_vector("weights", weights)
    if len(w) != n:
        raise ValueError(f"weights has length {len(w)}, expected {n}")
    if np.any(w < 0):
        raise ValueError("weights must not be negative")
    return w


def whole_number_key(columns: tuple[FloatArray, ...]) -> IntArray | None:
    """One int64 key ordering rows like the columns do, if every column holds small whole numbers.

    Summaries in whole days or counts are the common case; one argsort of an int64 key is
    several times cheaper than a lexicographic sort over float columns.
    """
    key = np.zeros(len(columns[0]), dtype=np.int64)
    span = 1
    for column in columns:
        low, high = float(column.min()), float(column.max())
        size = int(high - low) + 1
        if low < -(2**52) or high > 2**52 or span * size >= 2**62 or np.any(column != np.floor(column)):
            return None
        key = key * size + (column - low).astype(np.int64)
        span *= size
    return key


def compress_rows(columns: tuple[FloatArray, ...], weights: FloatArray) -> tuple[tuple[FloatArray, ...], FloatArray]:
    """Collapse identical rows into one row each, summing their weights.

    A million customers summarised in whole days share far fewer distinct (frequency, recency,
    age) triples, and the likelihood of identical rows is identical, so fitting on the distinct
    rows with weights gives the same optimum at a fraction of the cost. Whole-number columns
    are sorted by one combined int64 key, others lexicographically; either is cheaper than
    `np.unique(axis=0)`, which compares rows through a void view.
    """
    n = len(weights)
    if n == 0:
        return columns, weights
    key = whole_number_key(columns)
    if key is not None:
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        change = np.empty(n, dtype=bool)
        change[0] = True
        np.not_equal(sorted_key[1:], sorted_key[:-1], out=change[1:])
        starts = order[np.flatnonzero(change)]
        summed = np.add.reduceat(weights[order], np.flatnonzero(change))
        return tuple(column[starts] for column in columns), summed
    order = np.lexsort(columns[::-1])
    sorted_columns = tuple(column[order] for column in columns)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for column in sorted_columns:
        change[1:] |= column[1:] != column[:-1]
    boundaries = np.flatnonzero(change)
    summed = np.add.reduceat(weights[order], boundaries)
    return tuple(column[boundaries] for column in sorted_columns), summed
