"""Engine cost of the 4 I's, account health and the churn classifier at scale (pure NumPy / scikit-learn).

Timed on synthetic per-customer columns: engagement (4 I's, default definition, 12 measured
behaviours) and health for --customers customers; the churn classifier (fit, hold-out
evaluation with permutation importances, refit, scoring) on --labelled rows of 9 features.
Baseline in the same process: one `np.argsort` of --customers floats (the cost of one sort
over the customer base); the ratios say how many such sorts each step costs.

    python benchmarks/bench_engine_scores.py --customers 1000000 --labelled 200000
"""

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guanxi.engine import churn, engagement, health  # after the path fix above


def timed(label: str, fn: Callable[[], object], baseline: float | None = None) -> float:
    start = time.perf_counter()
    fn()
    took = time.perf_counter() - start
    ratio = f"  ×{took / baseline:,.1f} baseline" if baseline else ""
    print(f"{label:<48} {took:8.3f} s{ratio}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--labelled", type=int, default=200_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.customers
    counts = {
        key: rng.poisson(2.0, n).astype(float)
        for key, b in engagement.BEHAVIOURS.items()
        if b.kind == "count" and key not in ("satisfaction", "feedback_sentiment")
    }
    counts["answered_promptly_share"] = np.where(rng.random(n) < 0.3, np.nan, rng.random(n))
    values = rng.random(n)
    baseline = timed(f"baseline: argsort of {n:,} floats", lambda: np.argsort(values))
    result: dict[str, object] = {}
    timed(
        f"engagement (4 I's) for {n:,} customers",
        lambda: result.setdefault("e", engagement.engagement_scores(counts, engagement.DEFAULT_DEFINITION, n)),
        baseline,
    )
    # The row-by-row reasons are part of the cost: health runs on contract customers only.
    m = n // 10
    inputs = health.HealthInputs(
        due_orders=rng.poisson(6, m),
        paid_on_time=rng.poisson(5, m),
        overdue_unpaid=rng.poisson(0.3, m),
        open_cases=rng.poisson(0.5, m),
        engagement=rng.uniform(0, 100, m),
        usage_recent=rng.poisson(10, m),
        usage_baseline=rng.poisson(10, m).astype(float),
    )
    timed(f"health with reasons for {m:,} contract customers", lambda: health.health_scores(inputs), baseline)
    k = args.labelled
    x = rng.normal(size=(k, 9))
    y = (x[:, 0] + rng.normal(size=k) > 0.5).astype(int)
    fitted: dict[str, churn.ChurnModelResult] = {}
    timed(
        f"churn classifier on {k:,} labelled rows",
        lambda: fitted.setdefault("r", churn.train_churn_model([f"f{i}" for i in range(9)], x, y, seed=0)),
        baseline,
    )
    print(f"churn AUC on the hold-out: {fitted['r'].auc:.3f}")


if __name__ == "__main__":
    main()
