"""The tracking demo builds on the customers demo, is deterministic and safe to run twice."""

from django.core.management import call_command
from django.db.models import Sum

from guanxi.tracking.demo import DEMO_SOURCE, load_demo
from guanxi.tracking.models import (
    ComputedTraits,
    Identifier,
    LandedEvent,
    PlanViolation,
    Profile,
    Session,
    Source,
    TrackingPlan,
)
from guanxi.tracking.services.processing import pending_filter


def test_demo_without_staff_does_nothing(db: None) -> None:
    assert load_demo() == {"sources": 0, "events": 0, "processed": 0}


def test_demo_loads_processes_and_is_idempotent(db: None) -> None:
    call_command("demo_data", size="small", accounts=20, people=100, password="x", verbosity=0)
    result = load_demo("small", seed=3)
    source = Source.objects.get(name=DEMO_SOURCE)
    identified = Identifier.objects.filter(type="user_id").count()
    assert result["sources"] == 1
    assert result["events"] == 1500 + LandedEvent.objects.filter(type="identify").count()
    assert LandedEvent.objects.filter(type="identify").count() == 30
    assert result["processed"] == result["events"]
    assert LandedEvent.objects.filter(pending_filter()).count() == 0
    assert Profile.objects.filter(person__isnull=False).exists()
    assert identified > 0
    # Visits of a few events each: sessions, computed traits and the plan's report fill in.
    assert Session.objects.count() > 300
    assert (
        Session.objects.aggregate(n=Sum("event_count"))["n"]
        == LandedEvent.objects.exclude(type="identify").count() + 30
    )
    assert ComputedTraits.objects.filter(order_count__gt=0, revenue__gt=0).exists()
    assert TrackingPlan.objects.get(source=source).events[0]["name"] == "Product Viewed"
    assert PlanViolation.objects.filter(source=source, kind="unexpected_event", event="Product Added").get().count > 0
    assert not PlanViolation.objects.filter(source=source).exclude(kind="unexpected_event").exists()
    assert load_demo("small", seed=3) == {"sources": 0, "events": 0, "processed": 0}
    assert LandedEvent.objects.filter(source=source).count() == result["events"]
