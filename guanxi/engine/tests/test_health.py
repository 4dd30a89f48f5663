"""Account health: components, weights and reasons that add up to the points lost."""

import numpy as np
import pytest

from guanxi.engine.health import DEFAULT_WEIGHTS, HealthInputs, health_scores


def _inputs(**overrides: list[float]) -> HealthInputs:
    base: dict[str, list[float]] = {
        "due_orders": [4, 0, 2],
        "paid_on_time": [4, 0, 1],
        "overdue_unpaid": [0, 0, 1],
        "open_cases": [0, 0, 2],
        "engagement": [100, np.nan, 40],
        "usage_recent": [10, 0, 2],
        "usage_baseline": [5, 0, 8],
    }
    base.update(overrides)
    return HealthInputs(**base)


def test_a_perfect_customer_scores_100_with_no_reasons() -> None:
    result = health_scores(_inputs())
    assert result.score[0] == 100.0
    assert result.reasons[0] == []


def test_only_cases_apply_when_nothing_else_is_known() -> None:
    result = health_scores(_inputs())
    assert result.score[1] == 100.0
    assert np.isnan(result.components["payments"][1])
    assert np.isnan(result.components["usage"][1])


def test_known_score_and_exact_reasons() -> None:
    result = health_scores(_inputs())
    # payments 100×1/2 − 25 = 25; cases 100 − 50 = 50; engagement 40; usage 2/8 → 25.
    assert result.components["payments"][2] == 25.0
    assert result.components["cases"][2] == 50.0
    assert result.components["usage"][2] == 25.0
    expected = 0.35 * 25 + 0.2 * 50 + 0.25 * 40 + 0.2 * 25
    assert result.score[2] == pytest.approx(expected)
    reasons = result.reasons[2]
    assert [r.code for r in reasons] == ["payments", "engagement", "usage", "cases"]
    assert [r.points for r in reasons] == [26.2, 15.0, 15.0, 10.0]
    assert reasons[0].figures == {"late": 1.0, "due": 2.0, "overdue": 1.0}
    assert reasons[2].figures == {"recent": 2.0, "baseline": 8.0, "drop": 75.0}
    assert sum(r.points for r in reasons) == pytest.approx(100 - result.score[2], abs=0.2)


def test_weights_change_the_score_and_are_checked() -> None:
    only_cases = {**dict.fromkeys(DEFAULT_WEIGHTS, 0.0), "cases": 1.0}
    assert health_scores(_inputs(), only_cases).score[2] == 50.0
    with pytest.raises(ValueError, match="weights"):
        health_scores(_inputs(), {"payments": 1.0})
    with pytest.raises(ValueError, match="weights"):
        health_scores(_inputs(), dict.fromkeys(DEFAULT_WEIGHTS, 0.0))


def test_many_open_cases_floor_at_zero() -> None:
    result = health_scores(_inputs(open_cases=[9, 9, 9]))
    assert result.components["cases"].tolist() == [0.0, 0.0, 0.0]
    assert result.score[1] == 0.0
    assert result.reasons[1][0].code == "cases"
    assert result.reasons[1][0].points == 100.0
