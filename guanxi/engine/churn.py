"""Churn classifier for contract and subscription customers, with an honest hold-out evaluation.

Why a classifier here and BG/NBD elsewhere: a contract customer leaves by *not renewing*, a
visible event we can learn from (labels exist), while a one-off buyer never tells us; for them
the BG/NBD probability of being alive stands in. The adapter builds the labels by the snapshot
method: features as they were at a cutoff, label = did the customer stop buying after it.

What the caller gets back, besides a probability per customer to score:
- AUC and Brier score on a stratified hold-out share the model never saw while fitting;
- a reliability table (predicted probability bins against the observed churn share), so the
  user can see whether "0.7" really means seven in ten;
- permutation importances measured on the hold-out (how much AUC drops when a feature is
  shuffled), which hold for any model and cannot reward a feature the model merely overfits.

The model is a standardised logistic regression: few features, small data, and it is well
calibrated out of the box, which the reliability table then checks. Everything random takes
the seed, so the same data and seed give the same result. After the evaluation the model is
refitted on all labelled rows before scoring (the hold-out figures estimate its quality).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# scikit-learn ships no type information (no py.typed, no stubs on PyPI); its results are
# converted to NumPy arrays and floats right where they come back.
from sklearn.inspection import permutation_importance  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.metrics import brier_score_loss, roc_auc_score  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]
from sklearn.pipeline import Pipeline, make_pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

from guanxi.engine._arrays import FloatArray

ALGORITHM = "logistic_regression"
MIN_PER_CLASS = 10
"""Fewer churned (or retained) customers than this and no honest evaluation is possible."""
CALIBRATION_BINS = 10


@dataclass(frozen=True, slots=True)
class CalibrationBin:
    """Customers whose predicted churn probability fell in [low, high)."""

    low: float
    high: float
    customers: int
    mean_predicted: float | None
    observed: float | None


@dataclass(frozen=True, slots=True)
class ChurnModelResult:
    """A fitted model's evaluation and scores, or why none could be fitted (`fitted` False)."""

    fitted: bool
    reason: str
    features: tuple[str, ...]
    seed: int
    labelled: int
    churned: int
    train_size: int = 0
    test_size: int = 0
    auc: float | None = None
    brier: float | None = None
    base_rate: float | None = None
    calibration: tuple[CalibrationBin, ...] = ()
    importances: tuple[tuple[str, float], ...] = ()
    coefficients: tuple[tuple[str, float], ...] = ()
    predictions: FloatArray = field(default_factory=lambda: np.zeros(0))
    algorithm: str = ALGORITHM


def _matrix(name: str, values: npt.ArrayLike, n_features: int) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != n_features:
        raise ValueError(f"{name} must be a 2-D array with {n_features} columns, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def calibration_table(
    y_true: npt.ArrayLike, predicted: npt.ArrayLike, bins: int = CALIBRATION_BINS
) -> list[CalibrationBin]:
    """Equal-width bins over [0, 1]: each bin's count, mean prediction and observed churn share.

    Equal widths (not quantiles) so the chart's diagonal reads directly: a well-calibrated model
    has every populated bin's observed share near its mean prediction.
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        out.append(
            CalibrationBin(
                low=float(edges[b]),
                high=float(edges[b + 1]),
                customers=count,
                mean_predicted=float(p[mask].mean()) if count else None,
                observed=float(y[mask].mean()) if count else None,
            )
        )
    return out


def _model(seed: int) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))


def not_enough_data(features: Sequence[str], seed: int, labelled: int, churned: int, n_score: int) -> ChurnModelResult:
    """The result when no model can be evaluated honestly: no scores rather than made-up ones."""
    return ChurnModelResult(
        fitted=False,
        reason=(
            f"not enough data: {labelled} labelled customers, {churned} churned and {labelled - churned} "
            f"retained; at least {MIN_PER_CLASS} of each are needed"
        ),
        features=tuple(features),
        seed=seed,
        labelled=labelled,
        churned=churned,
        predictions=np.full(n_score, np.nan),
    )


def train_churn_model(
    features: Sequence[str],
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    x_score: npt.ArrayLike | None = None,
    seed: int = 0,
    test_size: float = 0.3,
    min_per_class: int = MIN_PER_CLASS,
) -> ChurnModelResult:
    """Fit, evaluate on a stratified hold-out, refit on all rows, and score `x_score` (default `x`).

    `y` is 1 for churned, 0 for retained. With fewer than `min_per_class` rows of either
    class the result is not fitted and every prediction is NaN.
    """
    names = tuple(features)
    if not names:
        raise ValueError("at least one feature is needed")
    x_arr = _matrix("x", x, len(names))
    y_arr = np.asarray(y, dtype=np.int64)
    if y_arr.ndim != 1 or len(y_arr) != len(x_arr):
        raise ValueError(f"y must be one label per row of x ({len(x_arr)}), got shape {y_arr.shape}")
    if not np.isin(y_arr, (0, 1)).all():
        raise ValueError("y must hold 0 (retained) and 1 (churned) only")
    if not 0.0 < test_size < 1.0:
        raise ValueError("test_size must lie strictly between 0 and 1")
    score_arr = x_arr if x_score is None else _matrix("x_score", x_score, len(names))
    labelled, churned = len(y_arr), int(y_arr.sum())
    if min(churned, labelled - churned) < min_per_class:
        return not_enough_data(names, seed, labelled, churned, len(score_arr))

    x_train, x_test, y_train, y_test = train_test_split(
        x_arr, y_arr, test_size=test_size, stratify=y_arr, random_state=seed
    )
    model = _model(seed).fit(x_train, y_train)
    p_test = model.predict_proba(x_test)[:, 1]
    auc = float(roc_auc_score(y_test, p_test))
    brier = float(brier_score_loss(y_test, p_test))
    perm = permutation_importance(model, x_test, y_test, scoring="roc_auc", n_repeats=5, random_state=seed)
    importances = sorted(
        ((name, float(value)) for name, value in zip(names, perm.importances_mean, strict=True)),
        key=lambda item: -item[1],
    )

    final = _model(seed).fit(x_arr, y_arr)
    coefficients = final.named_steps["logisticregression"].coef_[0]
    return ChurnModelResult(
        fitted=True,
        reason="",
        features=names,
        seed=seed,
        labelled=labelled,
        churned=churned,
        train_size=len(y_train),
        test_size=len(y_test),
        auc=auc,
        brier=brier,
        base_rate=churned / labelled,
        calibration=tuple(calibration_table(y_test, p_test)),
        importances=tuple(importances),
        coefficients=tuple((name, float(c)) for name, c in zip(names, coefficients, strict=True)),
        predictions=np.asarray(final.predict_proba(score_arr)[:, 1], dtype=np.float64),
    )
