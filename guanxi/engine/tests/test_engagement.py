"""Engagement (4 I's): scaling, weights, unmeasured behaviours and the definition check."""

import numpy as np
import pytest

from guanxi.engine.engagement import DEFAULT_DEFINITION, I_NAMES, check_definition, engagement_scores, scale


def test_counts_are_capped_at_the_95th_percentile_of_non_zero_values() -> None:
    values = np.array([0.0, *range(1, 101)])
    scaled, cap = scale("orders_365", values)
    assert cap == pytest.approx(95.05)
    assert scaled[0] == 0.0
    assert scaled[-1] == 1.0
    assert scaled[50] == pytest.approx(50 / 95.05)


def test_shares_are_used_as_they_are_and_nan_stays_nan() -> None:
    scaled, cap = scale("answered_promptly_share", [0.25, np.nan, 1.5])
    assert cap == 1.0
    assert scaled[0] == 0.25
    assert np.isnan(scaled[1])
    assert scaled[2] == 1.0


def test_all_zero_counts_score_zero() -> None:
    scaled, cap = scale("referrals", [0, 0, np.nan])
    assert cap == 0.0
    assert scaled[:2].tolist() == [0.0, 0.0]
    assert np.isnan(scaled[2])


def test_known_scores_under_a_small_definition() -> None:
    definition = {
        "involvement": [("orders_365", 1.0), ("active_days_90", 3.0)],
        "interaction": [("customer_started_90", 1.0)],
        "intimacy": [("answered_promptly_share", 1.0)],
        "influence": [("referrals", 1.0)],
    }
    columns: dict[str, list[float]] = {
        "orders_365": [0, 10, 10],
        "active_days_90": [0, 0, 10],
        "customer_started_90": [0, 4, 4],
        "answered_promptly_share": [np.nan, 0.5, 1.0],
        "referrals": [0, 0, 0],
    }
    result = engagement_scores(columns, definition, 3)
    assert result.scores["involvement"].tolist() == [0.0, 25.0, 100.0]
    assert result.scores["interaction"].tolist() == [0.0, 100.0, 100.0]
    # No customer-started contact: the share does not apply, and no other behaviour does either.
    assert result.scores["intimacy"].tolist() == [0.0, 50.0, 100.0]
    assert result.scores["influence"].tolist() == [0.0, 0.0, 0.0]
    assert result.engagement.tolist() == [0.0, 43.75, 75.0]
    assert result.unmeasured == ()


def test_more_weight_on_a_behaviour_a_customer_leads_raises_their_score() -> None:
    columns = {"orders_365": [10, 1], "active_days_90": [1, 10]}
    previous = None
    for weight in (0.5, 1.0, 2.0, 4.0, 8.0):
        definition = {**DEFAULT_DEFINITION, "involvement": [("orders_365", weight), ("active_days_90", 1.0)]}
        score = engagement_scores(columns, definition, 2).scores["involvement"]
        if previous is not None:
            assert score[0] > previous[0]
            assert score[1] < previous[1]
        previous = score


def test_unmeasured_behaviours_are_left_out_and_reported() -> None:
    result = engagement_scores({"orders_365": [1.0, 2.0]}, DEFAULT_DEFINITION, 2)
    assert "satisfaction" in result.unmeasured
    assert "tracked_events_90" in result.unmeasured
    assert np.isnan(result.scores["interaction"]).all()
    assert result.used["involvement"] == [("orders_365", 2.0)]
    # Only involvement has a score, so the overall engagement is involvement.
    assert result.engagement.tolist() == result.scores["involvement"].tolist()


def test_definition_check_names_each_problem() -> None:
    assert check_definition(DEFAULT_DEFINITION) == {}
    errors = check_definition(
        {
            "involvement": [("orders_365", 0.0)],
            "interaction": [("nope", 1.0)],
            "intimacy": [("meetings_365", 1.0), ("meetings_365", 2.0)],
            "influence": [("referrals", -1.0)],
            "fame": [],
        }
    )
    assert set(errors) == {*I_NAMES, "fame"}
    assert errors["interaction"] == "unknown behaviours: nope"
    with pytest.raises(ValueError, match="twice"):
        engagement_scores({}, {**DEFAULT_DEFINITION, "intimacy": [("meetings_365", 1.0)] * 2}, 0)
