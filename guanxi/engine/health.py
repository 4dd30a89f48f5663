"""Account health for contract customers: one 0–100 score and the reasons it is not 100.

Why a transparent points model rather than another classifier: the owner must act on it
before renewal, so every point lost has to be traceable to something they can do (chase a
late payment, close a case, call a customer whose usage dropped). Each component scores
0–100; the health is their weighted mean over the components that apply to the customer;
the points each component loses are exactly its share of (100 − health), so the reasons add
up to the score.

Components (weights in `DEFAULT_WEIGHTS`, explicit and stored with each run):
- payments: 100 × share of due orders paid in full by their due date, minus 25 per order
  still unpaid past its due date; does not apply without a due order;
- cases: 100 minus 25 per open case (four open cases give zero);
- engagement: the customer's engagement score (0–100); does not apply without one;
- usage: tracked activity in the last 30 days against the 30-day average of the 90 days
  before, 100 when at or above it; does not apply when neither period has any activity.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from guanxi.engine._arrays import FloatArray

COMPONENTS = ("payments", "cases", "engagement", "usage")
DEFAULT_WEIGHTS: dict[str, float] = {"payments": 0.35, "cases": 0.2, "engagement": 0.25, "usage": 0.2}
OVERDUE_PENALTY = 25.0
CASE_PENALTY = 25.0


@dataclass(frozen=True, slots=True)
class Reason:
    """A component that cost points: its code, the points lost and the figures behind it."""

    code: str
    points: float
    figures: dict[str, float]


@dataclass(frozen=True, slots=True)
class HealthInputs:
    """Per-customer columns, all of the same length."""

    due_orders: npt.ArrayLike
    paid_on_time: npt.ArrayLike
    overdue_unpaid: npt.ArrayLike
    open_cases: npt.ArrayLike
    engagement: npt.ArrayLike
    usage_recent: npt.ArrayLike
    usage_baseline: npt.ArrayLike
    """Events in the 90 days before the recent 30, divided by 3 (a 30-day average)."""


@dataclass(frozen=True, slots=True)
class HealthScores:
    score: FloatArray
    components: dict[str, FloatArray]
    reasons: list[list[Reason]]


def _vec(name: str, values: npt.ArrayLike, n: int | None) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or (n is not None and len(array) != n):
        raise ValueError(f"{name} must be one-dimensional of length {n}")
    return array


def component_scores(inputs: HealthInputs) -> dict[str, FloatArray]:
    """Each component 0–100, NaN where it does not apply."""
    due = _vec("due_orders", inputs.due_orders, None)
    n = len(due)
    on_time = _vec("paid_on_time", inputs.paid_on_time, n)
    overdue = _vec("overdue_unpaid", inputs.overdue_unpaid, n)
    cases = _vec("open_cases", inputs.open_cases, n)
    engagement = _vec("engagement", inputs.engagement, n)
    recent = _vec("usage_recent", inputs.usage_recent, n)
    baseline = _vec("usage_baseline", inputs.usage_baseline, n)
    share = np.divide(on_time, due, out=np.zeros(n), where=due > 0)
    payments = np.where(due > 0, np.clip(100.0 * share - OVERDUE_PENALTY * overdue, 0.0, 100.0), np.nan)
    usage_ratio = np.divide(recent, baseline, out=np.ones(n), where=baseline > 0)
    usage = np.where((recent <= 0) & (baseline <= 0), np.nan, 100.0 * np.clip(usage_ratio, 0.0, 1.0))
    return {
        "payments": payments,
        "cases": np.clip(100.0 - CASE_PENALTY * cases, 0.0, 100.0),
        "engagement": np.where(np.isfinite(engagement), np.clip(engagement, 0.0, 100.0), np.nan),
        "usage": usage,
    }


def health_scores(inputs: HealthInputs, weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> HealthScores:
    """Health 0–100 per customer, with its components and the reasons points were lost."""
    if set(weights) != set(COMPONENTS) or any(w < 0 for w in weights.values()) or not sum(weights.values()) > 0:
        raise ValueError(f"weights must give each of {COMPONENTS} a weight of zero or more, not all zero")
    parts = component_scores(inputs)
    n = len(parts["cases"])
    total = np.zeros(n)
    weight = np.zeros(n)
    for name in COMPONENTS:
        present = np.isfinite(parts[name])
        total += np.where(present, parts[name] * weights[name], 0.0)
        weight += np.where(present, weights[name], 0.0)
    score = np.divide(total, weight, out=np.full(n, np.nan), where=weight > 0)

    # Points each component lost, computed column-wise; the per-customer loop then only reads
    # plain Python lists (indexing NumPy scalars row by row costs ten times more).
    share = {name: np.divide(weights[name], weight, out=np.zeros(n), where=weight > 0) for name in COMPONENTS}
    lost = {
        name: np.where(np.isfinite(parts[name]) & (parts[name] < 100.0), share[name] * (100.0 - parts[name]), -1.0)
        .round(1)
        .tolist()
        for name in COMPONENTS
    }
    due = np.asarray(inputs.due_orders, dtype=np.float64).tolist()
    on_time = np.asarray(inputs.paid_on_time, dtype=np.float64).tolist()
    overdue = np.asarray(inputs.overdue_unpaid, dtype=np.float64).tolist()
    cases = np.asarray(inputs.open_cases, dtype=np.float64).tolist()
    recent = np.asarray(inputs.usage_recent, dtype=np.float64).tolist()
    baseline = np.asarray(inputs.usage_baseline, dtype=np.float64).tolist()
    engagement = parts["engagement"].tolist()
    usage = parts["usage"].tolist()
    reasons: list[list[Reason]] = []
    for i in range(n):
        found: list[Reason] = []
        if (points := lost["payments"][i]) > 0:
            found.append(
                Reason("payments", points, {"late": due[i] - on_time[i], "due": due[i], "overdue": overdue[i]})
            )
        if (points := lost["cases"][i]) > 0:
            found.append(Reason("cases", points, {"open": cases[i]}))
        if (points := lost["engagement"][i]) > 0:
            found.append(Reason("engagement", points, {"score": round(engagement[i], 1)}))
        if (points := lost["usage"][i]) > 0:
            figures = {"recent": recent[i], "baseline": round(baseline[i], 1), "drop": round(100.0 - usage[i], 1)}
            found.append(Reason("usage", points, figures))
        found.sort(key=lambda r: -r.points)
        reasons.append(found)
    return HealthScores(score=score, components=parts, reasons=reasons)
