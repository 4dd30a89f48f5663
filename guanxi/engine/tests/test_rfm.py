"""RFM scores and segments."""

import numpy as np
import pytest

from guanxi.engine.rfm import SEGMENT_RULES, SegmentRule, quintile_scores, rfm, segment_table


def test_quintiles_of_distinct_values() -> None:
    assert quintile_scores(np.arange(10.0)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quintile_scores(np.arange(10.0), higher_is_better=False).tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_ties_share_a_score_whatever_the_order() -> None:
    values = np.array([1, 1, 1, 1, 1, 1, 2, 2, 3, 7], dtype=float)
    scores = quintile_scores(values)
    assert scores.tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    shuffled = np.random.default_rng(3).permutation(len(values))
    assert quintile_scores(values[shuffled]).tolist() == scores[shuffled].tolist()
    # Recency: fewer days is better; the six customers on 30 days are all "worse" than nobody.
    assert quintile_scores([30, 30, 30, 30, 30, 30, 5, 5, 2, 1], higher_is_better=False).tolist() == [
        1, 1, 1, 1, 1, 1, 4, 4, 5, 5,
    ]  # fmt: skip


def test_every_cell_has_exactly_one_first_matching_segment() -> None:
    table = segment_table()
    keys = [SEGMENT_RULES[i].key for i in table.ravel()]
    assert set(keys) == {
        "champions", "loyal", "potential_loyalists", "new", "promising", "need_attention",
        "about_to_sleep", "at_risk", "cant_lose", "hibernating", "lost",
    }  # fmt: skip
    # Rows are R = 1..5, columns FM = 1..5.
    assert [[SEGMENT_RULES[i].key for i in row] for row in table] == [
        ["lost", "lost", "at_risk", "cant_lose", "cant_lose"],
        ["hibernating", "hibernating", "at_risk", "at_risk", "at_risk"],
        ["about_to_sleep", "need_attention", "loyal", "loyal", "loyal"],
        ["promising", "potential_loyalists", "loyal", "champions", "champions"],
        ["new", "potential_loyalists", "loyal", "champions", "champions"],
    ]


def test_rules_leaving_a_gap_are_refused() -> None:
    with pytest.raises(ValueError, match="R=1, FM=1"):
        segment_table((SegmentRule("all_but_one", "x", (1, 5), (2, 5), ""), SegmentRule("r2", "y", (2, 5), (1, 1), "")))


def test_rfm_scores_segments_and_bands() -> None:
    # Ten customers; customer 0 is the best on every measure, customer 9 the worst.
    recency = np.array([1, 3, 5, 10, 20, 40, 80, 160, 320, 640], dtype=float)
    frequency = np.array([20, 15, 12, 9, 7, 5, 3, 2, 1, 1], dtype=float)
    monetary = np.array([900, 800, 700, 600, 500, 400, 300, 200, 100, 50], dtype=float)
    result = rfm(recency, frequency, monetary)
    assert result.recency_score.tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert result.frequency_score.tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert result.monetary_score.tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert result.segment_keys() == [
        "champions", "champions", "champions", "champions", "loyal", "loyal",
        "hibernating", "hibernating", "lost", "lost",
    ]  # fmt: skip
    assert result.segment_counts()["champions"] == 4
    assert [(b.score, b.low, b.high, b.customers) for b in result.recency_bands] == [
        (1, 320.0, 640.0, 2), (2, 80.0, 160.0, 2), (3, 20.0, 40.0, 2), (4, 5.0, 10.0, 2), (5, 1.0, 3.0, 2),
    ]  # fmt: skip
    # Frequency 1 is shared by two customers, who both score 1.
    assert result.frequency_bands[0].low == result.frequency_bands[0].high == 1.0


def test_fm_rounds_half_up_and_mixed_profiles() -> None:
    # A recent big spender who bought once: F = 1, M = 5 -> FM = 3.
    recency = np.array([1, 50, 50, 50, 50], dtype=float)
    frequency = np.array([1, 5, 5, 5, 5], dtype=float)
    monetary = np.array([1000, 1, 2, 3, 4], dtype=float)
    result = rfm(recency, frequency, monetary)
    assert (int(result.frequency_score[0]), int(result.monetary_score[0]), int(result.fm_score[0])) == (1, 5, 3)
    assert result.segment_keys()[0] == "loyal"
    empty = rfm([], [], [])
    assert empty.segment_keys() == []


def _brute_force_scores(values: list[float], higher_is_better: bool) -> list[int]:
    n = len(values)
    worse = [sum(1 for w in values if (w < v if higher_is_better else w > v)) for v in values]
    return [1 + (5 * k) // n for k in worse]


@pytest.mark.parametrize(
    "values",
    [
        # whole numbers in a short range: counted
        [float(v) for v in np.random.default_rng(5).integers(-3, 40, 200)],
        # fractions: sorted
        [round(float(v), 2) for v in np.random.default_rng(6).gamma(2.0, 50.0, 200)],
        # whole numbers too far apart to count: sorted
        [0.0, 1e12, 1e12, 3.0, -5e11, 3.0, 7.0, 1e12, 0.0, 2.0],
        [4.0],
    ],
    ids=["whole", "fractions", "wide", "one"],
)
@pytest.mark.parametrize("higher_is_better", [True, False])
def test_scores_count_the_values_strictly_worse(values: list[float], higher_is_better: bool) -> None:
    got = quintile_scores(values, higher_is_better=higher_is_better).tolist()
    assert got == _brute_force_scores(values, higher_is_better)
