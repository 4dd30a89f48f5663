"""Lifecycle stages from the admin's ordered rules, for every scored customer at once.

Rules are evaluated as NumPy masks, one rule at a time over all customers still without a
stage, so a million customers cost a few array operations per rule rather than a Python loop.
Customers no rule matches keep their current stage.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from guanxi.analytics.models import LifecycleRule


@dataclass(frozen=True, slots=True)
class RuleConditions:
    """The conditions of one rule, detached from the database (defaults and tests build these)."""

    stage: str
    min_orders: int | None = None
    max_orders: int | None = None
    min_days_since_last: int | None = None
    max_days_since_last: int | None = None
    min_p_alive: float | None = None
    max_p_alive: float | None = None
    rfm_segments: tuple[str, ...] = ()
    from_stages: tuple[str, ...] = ()
    description: str = ""

    @classmethod
    def of(cls, rule: LifecycleRule) -> "RuleConditions":
        return cls(
            stage=rule.stage,
            min_orders=rule.min_orders,
            max_orders=rule.max_orders,
            min_days_since_last=rule.min_days_since_last,
            max_days_since_last=rule.max_days_since_last,
            min_p_alive=rule.min_p_alive,
            max_p_alive=rule.max_p_alive,
            rfm_segments=tuple(rule.rfm_segments),
            from_stages=tuple(rule.from_stages),
            description=rule.description,
        )


# Shipped by migration 0002 as editable rows; kept here too so tests and the data migration
# agree on one list. First match wins.
DEFAULT_RULES: tuple[RuleConditions, ...] = (
    RuleConditions(
        "won_back",
        max_days_since_last=90,
        from_stages=("lost", "won_back"),
        description="Was lost and bought again; stays won back while ordering within 90 days.",
    ),
    RuleConditions("lost", min_days_since_last=365, description="No order for a year or more."),
    RuleConditions(
        "new", max_orders=1, max_days_since_last=90, description="One order so far, placed within the last 90 days."
    ),
    RuleConditions(
        "at_risk",
        max_p_alive=0.3,
        description="The purchase model gives at most a 30% chance that the customer is still buying.",
    ),
    RuleConditions(
        "loyal",
        min_orders=4,
        rfm_segments=("champions", "loyal"),
        description="Four or more orders and an RFM segment of champions or loyal.",
    ),
    RuleConditions("active", max_days_since_last=180, description="Ordered within the last 180 days."),
    RuleConditions("at_risk", description="Everyone else who has bought: no order for 6 to 12 months."),
)


def assign_stages(
    rules: Sequence[RuleConditions],
    *,
    order_count: npt.NDArray[np.int64],
    days_since_last: npt.NDArray[np.int64],
    p_alive: npt.NDArray[np.float64],
    segment: Sequence[str],
    current: Sequence[str],
) -> list[str]:
    """Each customer's stage by the first matching rule, or their current stage if none matches.

    A missing p_alive (NaN: no model fitted) fails any p_alive condition.
    """
    n = len(order_count)
    segments = np.asarray(segment, dtype=object)
    current_arr = np.asarray(current, dtype=object)
    result = current_arr.copy()
    open_ = np.ones(n, dtype=bool)
    for rule in rules:
        mask = open_.copy()
        if rule.min_orders is not None:
            mask &= order_count >= rule.min_orders
        if rule.max_orders is not None:
            mask &= order_count <= rule.max_orders
        if rule.min_days_since_last is not None:
            mask &= days_since_last >= rule.min_days_since_last
        if rule.max_days_since_last is not None:
            mask &= days_since_last <= rule.max_days_since_last
        if rule.min_p_alive is not None:
            mask &= np.nan_to_num(p_alive, nan=-1.0) >= rule.min_p_alive
        if rule.max_p_alive is not None:
            mask &= np.nan_to_num(p_alive, nan=2.0) <= rule.max_p_alive
        if rule.rfm_segments:
            mask &= np.isin(segments, list(rule.rfm_segments))
        if rule.from_stages:
            mask &= np.isin(current_arr, list(rule.from_stages))
        result[mask] = rule.stage
        open_ &= ~mask
    stages: list[str] = result.tolist()
    return stages
