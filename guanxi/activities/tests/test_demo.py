import pytest
from django.core.management import call_command

from guanxi.activities import demo
from guanxi.activities.models import Activity, FollowUpPlan, TalkScript, Task
from guanxi.customers.models import Person
from guanxi.staff.models import Team

pytestmark = pytest.mark.django_db


def test_demo_follow_ups_over_the_demo_customers_and_a_second_run_adds_nothing() -> None:
    call_command("demo_data", accounts=20, people=120, password="demo-pass-1", verbosity=0)
    counts = demo.load_demo("small", seed=7)
    assert counts["activities"] == 400
    assert counts["plans"] == 3
    assert dict(FollowUpPlan.objects.values_list("grade", "interval_days")) == {"A": 3, "B": 7, "C": 30}
    assert TalkScript.objects.count() == 3
    assert Team.objects.order_by("pk").first().reclaim_after_days_without_follow_up == 30  # type: ignore[union-attr]  # demo teams exist
    kinds = set(Activity.objects.values_list("kind", flat=True))
    assert len(kinds) >= 4
    assert set(Activity.objects.values_list("initiated_by", flat=True)) == {"us", "customer"}
    assert Activity.objects.filter(initiated_by="customer", answered_at__isnull=True).count() == 0
    person_ids = Activity.objects.filter(person__isnull=False).values("person")
    assert not Person.objects.filter(pk__in=person_ids, last_follow_up_at__isnull=True).exists()
    assert Task.objects.count() == counts["tasks"] > 0
    again = demo.load_demo("small", seed=7)
    assert (again["activities"], again["plans"], again["talk_scripts"]) == (0, 0, 0)
    assert Activity.objects.count() == 400
