"""Demo data, the management command and the background tasks."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from guanxi.analytics import tasks
from guanxi.analytics.demo import load_demo
from guanxi.analytics.models import (
    AccountHealth,
    AnalyticsRun,
    ChurnModel,
    OfferSuggestion,
    PurchaseSummary,
    RunKind,
    RunStatus,
)
from guanxi.analytics.tests.factories import order
from guanxi.commerce.models import Order, Payment
from guanxi.customers.models import Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory

pytestmark = pytest.mark.django_db


def test_demo_draws_orders_scores_and_finds_rules() -> None:
    for i in range(80):
        PersonFactory.create(family_name=f"Demo{i}")
    report = load_demo("small", seed=3)
    assert report["orders"] == Order.objects.count() > 80
    assert report["customers_scored"] == 80
    assert report["rules"] > 0
    assert report["offers"] == OfferSuggestion.objects.count() > 0
    assert Person.objects.exclude(rfm_score="").count() == 80
    assert set(AnalyticsRun.objects.values_list("status", flat=True)) == {RunStatus.SUCCEEDED}
    # Deterministic: the same seed draws the same history.
    first = list(Order.objects.order_by("number").values_list("number", "total_amount"))
    Order.objects.all().delete()
    load_demo("small", seed=3)
    assert list(Order.objects.order_by("number").values_list("number", "total_amount")) == first
    # Again with orders present: no new orders, one more pair of runs.
    again = load_demo("small", seed=3)
    assert again["orders"] == 0
    assert AnalyticsRun.objects.count() == 6


def test_demo_without_customers_does_not_crash() -> None:
    assert load_demo()["customers_scored"] == 0


def test_command_runs_each_step_with_a_progress_bar() -> None:
    order(PersonFactory.create(), dt.datetime(2026, 1, 5, tzinfo=dt.UTC), 10, products=("tea",))
    out = StringIO()
    call_command("analytics", "run", "--end", "2026-02-01", stdout=out)
    text = out.getvalue()
    assert "scoring  [##############################] 100% 1/1" in text
    scoring = AnalyticsRun.objects.get(kind=RunKind.SCORING)
    rules = AnalyticsRun.objects.get(kind=RunKind.RULES)
    assert f"Run #{scoring.pk} scoring: succeeded, 1 customers" in text
    assert f"Run #{rules.pk} rules: succeeded" in text
    assert scoring.parameters["end"] == "2026-02-01T00:00:00+00:00"


def test_command_runs_one_step() -> None:
    call_command("analytics", "run", "--step", "rules", "--no-progress", stdout=StringIO())
    assert list(AnalyticsRun.objects.values_list("kind", flat=True)) == [RunKind.RULES]


def test_tasks_wrap_the_services() -> None:
    result = tasks.run_scoring.enqueue(end="2026-02-01T00:00:00+00:00", seed=4)
    assert result.return_value["status"] == RunStatus.SUCCEEDED
    run = AnalyticsRun.objects.get(pk=result.return_value["run"])
    assert (run.seed, run.created_by) == (4, None)
    assert tasks.run_rules.enqueue().return_value["status"] == RunStatus.SUCCEEDED


def test_demo_gives_contract_accounts_orders_payments_and_health() -> None:
    for i in range(40):
        AccountFactory.create(name=f"Demo Co {i}")
    report = load_demo("small", seed=3)
    assert report["contract_orders"] == Order.objects.filter(number__startswith="AN-C-").count() > 200
    assert report["payments"] == Payment.objects.count() > 0
    assert Order.objects.filter(number__startswith="AN-C-", payment_due_date__isnull=True).count() == 0
    assert AccountHealth.objects.filter(account__isnull=False).count() > 10
    assert ChurnModel.objects.count() == 1
    again = load_demo("small", seed=3)
    assert again["contract_orders"] == 0
    assert Order.objects.filter(number__startswith="AN-C-").count() == report["contract_orders"]


def test_summaries_command_refreshes_then_rebuilds() -> None:
    buyer = PersonFactory.create()
    order(buyer, dt.datetime(2026, 1, 5, tzinfo=dt.UTC), 10)
    out = StringIO()
    call_command("analytics", "summaries", stdout=out)
    assert out.getvalue().strip() == "Purchase summaries: rebuilt, 1 recomputed, 1 customers"
    order(buyer, dt.datetime(2026, 2, 5, tzinfo=dt.UTC), 20)
    out = StringIO()
    call_command("analytics", "summaries", stdout=out)
    assert "1 new orders, 1 customers folded" in out.getvalue()
    assert tasks.rebuild_purchase_summaries.enqueue().return_value == {"customers": 1}
    assert PurchaseSummary.objects.get().order_count == 2
