"""Fixtures of the activities tests: follow-up plans and a deal at a stage."""

import pytest

from guanxi.activities.models import FollowUpPlan
from guanxi.sales.models import Pipeline, Stage


@pytest.fixture
def plans(db: None) -> dict[str, FollowUpPlan]:
    """The default plans: A every 3 days, B weekly, C monthly, D none."""
    return {
        grade: FollowUpPlan.objects.create(grade=grade, interval_days=days)
        for grade, days in (("A", 3), ("B", 7), ("C", 30))
    }


@pytest.fixture
def stage(db: None) -> Stage:
    pipeline = Pipeline.objects.create(name="Standard", is_default=True)
    return Stage.objects.create(pipeline=pipeline, name="Proposal", position=2, probability=40)
