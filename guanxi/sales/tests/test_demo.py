import pytest
from django.core.management import call_command
from django.db.models import Count

from guanxi.customers.models import Account
from guanxi.sales import demo, queries
from guanxi.sales.models import Opportunity, Pipeline, StageChange, StageKind
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db


def test_demo_builds_consistent_deals_once() -> None:
    call_command("demo_data", accounts=20, people=200, password="demo-pass-1", verbosity=0)
    counts = demo.load_demo("small", seed=3)
    assert counts["pipelines"] == 2
    assert counts["opportunities"] == 300
    assert Pipeline.objects.filter(is_default=True).count() == 1
    by_status = dict(Opportunity.objects.values_list("status").annotate(n=Count("id")))
    assert set(by_status) == {"open", "won", "lost"}
    mismatched = Opportunity.objects.exclude(status=models_kind()).count()
    assert mismatched == 0
    assert not Opportunity.objects.filter(status="lost", lost_reason="").exists()
    assert not Opportunity.objects.filter(status="open", closed_at__isnull=False).exists()
    # Each deal's history starts with its creation and ends in its current stage.
    deal = Opportunity.objects.filter(status="won").first()
    assert deal is not None
    changes = list(StageChange.objects.filter(opportunity=deal).order_by("changed_at"))
    assert changes[0].from_stage is None
    assert changes[-1].to_stage_id == deal.stage_id
    assert all(c.seconds_in_from_stage and c.seconds_in_from_stage > 0 for c in changes[1:])
    assert Account.objects.filter(last_won_at__isnull=False).exists()
    # The forecast has something to show for the demo's managers.
    manager = User.objects.get(username="manager")
    assert queries.forecast(manager, queries.OpportunityFilters()).win_rate is not None
    assert demo.load_demo("small")["opportunities"] == 0  # a second run adds nothing
    assert Opportunity.objects.count() == 300


def models_kind() -> object:
    from django.db.models import F

    return F("stage__kind")


def test_demo_without_customers_does_nothing() -> None:
    assert demo.load_demo()["opportunities"] == 0
    assert Pipeline.objects.count() == 2
    assert StageKind.WON in Pipeline.objects.get(is_default=True).stages.values_list("kind", flat=True)
