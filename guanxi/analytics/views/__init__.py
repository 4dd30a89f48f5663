"""Analytics pages: `runs` (dashboard, run history, lifecycle rules) and `scores` (churn model,
engagement definition, account health)."""

from guanxi.analytics.views.runs import (
    dashboard,
    rule_create,
    rule_delete,
    rule_edit,
    rule_list,
    run_detail,
    run_list,
    run_start,
)
from guanxi.analytics.views.scores import churn_model, engagement, engagement_edit, health_list

__all__ = [
    "churn_model",
    "dashboard",
    "engagement",
    "engagement_edit",
    "health_list",
    "rule_create",
    "rule_delete",
    "rule_edit",
    "rule_list",
    "run_detail",
    "run_list",
    "run_start",
]
