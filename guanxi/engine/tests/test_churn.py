"""Churn classifier: known answers on synthetic data, the calibration table and the 'not enough data' path."""

import numpy as np
import pytest

from guanxi.engine.churn import calibration_table, train_churn_model

FEATURES = ("days_since_last", "noise")


def _data(n: int, seed: int, *, informative: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    days = rng.uniform(0, 365, n)
    noise = rng.normal(size=n)
    y = (days > 180).astype(int) if informative else rng.integers(0, 2, n)
    return np.column_stack([days, noise]), y


def test_a_feature_that_decides_churn_gives_auc_near_one_and_tops_the_importances() -> None:
    x, y = _data(600, 1, informative=True)
    result = train_churn_model(FEATURES, x, y, seed=3)
    assert result.fitted
    assert result.auc is not None
    assert result.auc > 0.98
    assert result.brier is not None
    assert result.brier < 0.08
    assert result.train_size == 420
    assert result.test_size == 180
    assert result.importances[0][0] == "days_since_last"
    assert result.importances[0][1] > 0.3
    assert abs(result.importances[1][1]) < 0.05
    # Stratified: the hold-out keeps the churn share of the whole.
    assert sum(b.customers for b in result.calibration) == 180
    # Scores for the rows asked about: long-silent customers are the risky ones.
    assert result.predictions.shape == (600,)
    assert result.predictions[x[:, 0] > 300].min() > 0.9
    assert result.predictions[x[:, 0] < 60].max() < 0.1


def test_a_random_label_gives_auc_near_one_half() -> None:
    x, y = _data(2000, 2, informative=False)
    result = train_churn_model(FEATURES, x, y, seed=0)
    assert result.fitted
    assert result.auc is not None
    assert 0.44 < result.auc < 0.56


def test_same_seed_same_result_other_seed_other_split() -> None:
    x, y = _data(300, 4, informative=True)
    a = train_churn_model(FEATURES, x, y, seed=7)
    b = train_churn_model(FEATURES, x, y, seed=7)
    c = train_churn_model(FEATURES, x, y, seed=8)
    assert a.auc == b.auc
    assert a.brier == b.brier
    assert np.array_equal(a.predictions, b.predictions)
    assert (a.brier, a.calibration) != (c.brier, c.calibration)


def test_scores_other_rows_when_given() -> None:
    x, y = _data(200, 5, informative=True)
    result = train_churn_model(FEATURES, x, y, x_score=[[10.0, 0.0], [350.0, 0.0]], seed=1)
    assert result.predictions.shape == (2,)
    assert result.predictions[0] < 0.2 < 0.8 < result.predictions[1]


@pytest.mark.parametrize(("churned", "retained"), [(0, 50), (50, 0), (9, 50), (50, 9)])
def test_one_class_or_too_few_of_a_class_is_not_enough_data(churned: int, retained: int) -> None:
    y = np.array([1] * churned + [0] * retained)
    x = np.column_stack([np.arange(len(y), dtype=float), np.zeros(len(y))])
    result = train_churn_model(FEATURES, x, y, x_score=np.ones((3, 2)))
    assert not result.fitted
    assert result.reason.startswith("not enough data")
    assert f"{churned} churned and {retained} retained" in result.reason
    assert result.auc is None
    assert result.calibration == ()
    assert np.isnan(result.predictions).all()
    assert result.predictions.shape == (3,)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="2-D array with 2 columns"):
        train_churn_model(FEATURES, np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="finite"):
        train_churn_model(FEATURES, [[np.nan, 0.0]], [0])
    with pytest.raises(ValueError, match="0 \\(retained\\) and 1"):
        train_churn_model(FEATURES, np.zeros((2, 2)), [0, 2])


def test_calibration_bins_count_mean_and_observed_share() -> None:
    bins = calibration_table([0, 1, 1, 0, 1], [0.05, 0.08, 0.95, 1.0, 0.55], bins=10)
    assert [b.customers for b in bins] == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    assert bins[0].mean_predicted == pytest.approx(0.065)
    assert bins[0].observed == 0.5
    assert bins[1].mean_predicted is None
    assert bins[1].observed is None
    assert bins[9].observed == 0.5
    assert bins[9].mean_predicted == pytest.approx(0.975)
