"""RFM: recency, frequency and monetary scores of 1-5 and the usual named segments.

Scores are quintiles of the customer base: 5 is the best fifth (most recent, most frequent,
biggest spenders). Ties always get the same score, whatever the input order: a customer's
score is 1 + floor(5 * w / n), where w is the number of customers strictly worse on that
measure. So a score never splits equal values (the lifetimes/pandas `qcut` on ranks does), and
a measure with heavy ties, such as one purchase for 60 % of customers, simply leaves some
scores empty instead of inventing an order.

Segments come from the recency score R and the combined FM score (the mean of F and M rounded
half up), through ordered rules kept as data (`SEGMENT_RULES`): the first rule whose R and FM
ranges contain a customer's scores names the segment. The UI shows those ranges, and the value
ranges behind each score (`ScoreBand`), to explain why a customer sits where they do.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from guanxi.engine._arrays import FloatArray, IntArray, as_float_vector, same_length, whole_number_key

BINS = 5


@dataclass(frozen=True, slots=True)
class SegmentRule:
    """A named segment: customers with R in `recency` and FM in `frequency_monetary` (inclusive)."""

    key: str
    label: str
    recency: tuple[int, int]
    frequency_monetary: tuple[int, int]
    description: str

    def matches(self, r: int, fm: int) -> bool:
        return (
            self.recency[0] <= r <= self.recency[1] and self.frequency_monetary[0] <= fm <= self.frequency_monetary[1]
        )


# First match wins; together they cover every (R, FM) cell of the 5 x 5 grid exactly once
# (checked by `segment_table`). Adapted from the widely used RFM segment map (R against the
# F/M average) to a partition, so every customer has exactly one segment.
SEGMENT_RULES: tuple[SegmentRule, ...] = (
    SegmentRule("champions", "Champions", (4, 5), (4, 5), "Bought recently, buy often and spend the most."),
    SegmentRule("loyal", "Loyal", (3, 5), (3, 5), "Buy regularly and spend well; respond to loyalty offers."),
    SegmentRule(
        "potential_loyalists",
        "Potential loyalists",
        (4, 5),
        (2, 2),
        "Recent customers with average frequency and spend.",
    ),
    SegmentRule("new", "New", (5, 5), (1, 1), "Bought most recently, but not often yet."),
    SegmentRule("promising", "Promising", (4, 4), (1, 1), "Recent shoppers who have not spent much yet."),
    SegmentRule("need_attention", "Need attention", (3, 3), (2, 2), "Average recency, frequency and spend; slipping."),
    SegmentRule(
        "about_to_sleep",
        "About to sleep",
        (3, 3),
        (1, 1),
        "Below average recency and frequency; will be lost unless reactivated.",
    ),
    SegmentRule(
        "cant_lose", "Can't lose them", (1, 1), (4, 5), "Used to buy often and spend much, but not for a long time."
    ),
    SegmentRule("at_risk", "At risk", (1, 2), (3, 5), "Spent well and bought often, but long ago."),
    SegmentRule("hibernating", "Hibernating", (2, 2), (1, 2), "Last purchase long ago, few orders, low spend."),
    SegmentRule("lost", "Lost", (1, 1), (1, 2), "Lowest recency, frequency and spend."),
)


@dataclass(frozen=True, slots=True)
class ScoreBand:
    """The values that earned one score, to show the thresholds on screen."""

    score: int
    low: float
    high: float
    customers: int


@dataclass(frozen=True, slots=True)
class RfmResult:
    recency_score: IntArray
    frequency_score: IntArray
    monetary_score: IntArray
    fm_score: IntArray
    segment: IntArray
    """Index into `rules` for each customer."""
    rules: tuple[SegmentRule, ...]
    recency_bands: tuple[ScoreBand, ...]
    frequency_bands: tuple[ScoreBand, ...]
    monetary_bands: tuple[ScoreBand, ...]

    def segment_keys(self) -> list[str]:
        """Each customer's segment key, for writing back to records."""
        keys = [rule.key for rule in self.rules]
        return [keys[i] for i in self.segment.tolist()]

    def segment_counts(self) -> dict[str, int]:
        counts = np.bincount(self.segment, minlength=len(self.rules))
        return {rule.key: int(c) for rule, c in zip(self.rules, counts, strict=True)}


def quintile_scores(values: npt.ArrayLike, *, higher_is_better: bool = True, bins: int = BINS) -> IntArray:
    """Score each value 1..bins by the share of customers strictly worse than it.

    1 + floor(bins * worse / n) in integer arithmetic: equal values share a score, the result
    does not depend on the order of the input, and no float rounding decides a boundary.
    """
    v = as_float_vector("values", values)
    n = len(v)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(1 + (bins * _worse_counts(v, higher_is_better)) // n, dtype=np.int64)


def _worse_counts(v: FloatArray, higher_is_better: bool) -> IntArray:
    """For each value, how many values are strictly worse.

    Days and order counts are whole numbers in a short range: counting them (`bincount`) is a
    pass over the array. Anything else is sorted once and each run of equal values is given
    the position where it starts and ends.
    """
    n = len(v)
    codes = whole_number_key((v,))  # each value less the lowest, if all are whole numbers
    if codes is not None and int(codes.max()) <= 4 * n + 1024:
        counts = np.bincount(codes)
        at_most = np.cumsum(counts)
        below = at_most - counts
        return np.asarray(below[codes] if higher_is_better else n - at_most[codes], dtype=np.int64)
    order = np.argsort(v, kind="stable")
    ordered = v[order]
    starts_run = np.empty(n, dtype=bool)
    starts_run[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_run[1:])
    run_starts = np.flatnonzero(starts_run)
    run_of = np.cumsum(starts_run) - 1
    run_ends = np.append(run_starts[1:], n)
    worse_sorted = run_starts[run_of] if higher_is_better else n - run_ends[run_of]
    worse = np.empty(n, dtype=np.int64)
    worse[order] = worse_sorted
    return worse


def score_bands(values: FloatArray, scores: IntArray, bins: int = BINS) -> tuple[ScoreBand, ...]:
    """For each score that occurs, the lowest and highest value that got it and how many did."""
    bands = []
    for score in range(1, bins + 1):
        chosen = values[scores == score]
        if len(chosen):
            bands.append(ScoreBand(score, float(chosen.min()), float(chosen.max()), len(chosen)))
    return tuple(bands)


def segment_table(rules: tuple[SegmentRule, ...] = SEGMENT_RULES, bins: int = BINS) -> IntArray:
    """The rule index for each (R, FM) cell, as a bins x bins array indexed [R-1, FM-1].

    Raises ValueError if a cell matches no rule, so an admin's edited rule set cannot leave
    customers without a segment. Also what the UI draws as the RFM grid.
    """
    table = np.full((bins, bins), -1, dtype=np.int64)
    for r in range(1, bins + 1):
        for fm in range(1, bins + 1):
            for index, rule in enumerate(rules):
                if rule.matches(r, fm):
                    table[r - 1, fm - 1] = index
                    break
            else:
                raise ValueError(f"no segment rule covers R={r}, FM={fm}")
    return table


def rfm(
    recency_days: npt.ArrayLike,
    frequency: npt.ArrayLike,
    monetary: npt.ArrayLike,
    *,
    rules: tuple[SegmentRule, ...] = SEGMENT_RULES,
) -> RfmResult:
    """Score and segment customers from their days since last purchase, order count and spend.

    Only customers who have bought belong here: the quintiles are of the buying base.
    """
    recency = as_float_vector("recency_days", recency_days)
    freq = as_float_vector("frequency", frequency)
    money = as_float_vector("monetary", monetary)
    same_length(recency_days=recency, frequency=freq, monetary=money)
    table = segment_table(rules)
    r = quintile_scores(recency, higher_is_better=False)
    f = quintile_scores(freq)
    m = quintile_scores(money)
    fm = (f + m + 1) // 2
    segment = table[r - 1, fm - 1] if len(r) else np.zeros(0, dtype=np.int64)
    return RfmResult(
        recency_score=r,
        frequency_score=f,
        monetary_score=m,
        fm_score=fm,
        segment=np.asarray(segment, dtype=np.int64),
        rules=rules,
        recency_bands=score_bands(recency, r),
        frequency_bands=score_bands(freq, f),
        monetary_bands=score_bands(money, m),
    )
