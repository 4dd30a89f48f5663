"""Demo data, the management command and the background task."""

from io import StringIO

import pytest
from django.core.management import call_command

from guanxi.activities.tests.factories import ActivityFactory
from guanxi.customers.tests.factories import PersonFactory
from guanxi.profitability import tasks
from guanxi.profitability.demo import MONTHLY_SPEND, load_demo
from guanxi.profitability.models import AcquisitionCost, ActivityCost, ProfitabilityRun, RunStatus
from guanxi.profitability.tests.factories import set_costs
from guanxi.staff.models import StaffRole
from guanxi.staff.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_demo_sets_costs_spending_and_runs() -> None:
    UserFactory.create(username="admin", role=StaffRole.ADMIN)
    for i in range(3):
        person = PersonFactory.create(family_name=f"Demo{i}")
        ActivityFactory.create(person=person, kind="visit")
    report = load_demo("small", seed=3)
    assert report["acquisition_costs"] == 12 * len(MONTHLY_SPEND) == AcquisitionCost.objects.count()
    assert report["customers"] == 3
    assert report["served_at_a_loss"] == 3  # a visit costs 260 and nobody bought
    assert ActivityCost.objects.get(kind="visit").cost == 260
    amounts = sorted(AcquisitionCost.objects.values_list("amount", flat=True))
    AcquisitionCost.objects.all().delete()
    load_demo("small", seed=3)
    assert sorted(AcquisitionCost.objects.values_list("amount", flat=True)) == amounts  # deterministic
    again = load_demo("small", seed=3)  # nothing typed over, one more run
    assert again["acquisition_costs"] == 0
    assert ProfitabilityRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 3


def test_demo_without_admin_or_customers_does_not_crash() -> None:
    assert load_demo() == {"acquisition_costs": 0, "customers": 0, "served_at_a_loss": 0}


def test_command_runs_with_a_progress_bar() -> None:
    set_costs()
    person = PersonFactory.create()
    ActivityFactory.create(person=person, kind="call")
    out = StringIO()
    call_command("profitability", "run", stdout=out)
    text = out.getvalue()
    run = ProfitabilityRun.objects.get()
    assert "[##############################] 1/1" in text
    assert f"Run #{run.pk}: succeeded, 1 customers, 1 served at a loss, profit -10.00 CNY" in text
    call_command("profitability", "run", "--no-progress", stdout=StringIO())
    assert ProfitabilityRun.objects.count() == 2


def test_task_wraps_the_service() -> None:
    admin = UserFactory.create(username="boss", role=StaffRole.ADMIN)
    result = tasks.run_profitability.enqueue(actor_id=admin.pk)
    assert result.return_value["status"] == RunStatus.SUCCEEDED
    assert ProfitabilityRun.objects.get().created_by == admin
