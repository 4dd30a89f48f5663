"""Tracking plans: validation, import/export, the per-batch check and its counters."""

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from guanxi.core.models import ChangeRecord
from guanxi.staff.models import User
from guanxi.tracking import services
from guanxi.tracking.models import LandedEvent, PlanViolation, Profile, SeenEvent, Source, TrackingPlan
from guanxi.tracking.services import plans
from guanxi.tracking.services.processing import pending_filter
from guanxi.tracking.tests.test_processing import identify, land, process, track

PLAN: dict[str, Any] = {
    "events": [
        {
            "type": "track",
            "name": "Product Viewed",
            "description": "A product page or card was seen",
            "properties": [
                {"name": "sku", "type": "string", "required": True},
                {"name": "price", "type": "number"},
                {"name": "quantity", "type": "integer"},
            ],
        },
        {"type": "track", "name": "Order Completed", "properties": {"revenue": {"type": "number", "required": True}}},
        {"type": "identify", "name": "", "properties": [{"name": "email", "type": "string", "required": True}]},
    ]
}


def test_a_plan_is_cleaned_saved_with_history_and_exported(admin_user: User, source: Source) -> None:
    plan = services.save_tracking_plan(admin_user, source, PLAN)
    assert [(e["type"], e["name"]) for e in plan.events] == [
        ("track", "Product Viewed"),
        ("track", "Order Completed"),
        ("identify", ""),
    ]
    assert plan.events[1]["properties"] == [{"name": "revenue", "type": "number", "required": True}]
    assert ChangeRecord.objects.filter(object_id=plan.pk, changes__has_key="events").count() == 1
    exported = services.export_tracking_plan(source)
    assert exported["source"] == "Web shop"
    again = services.save_tracking_plan(admin_user, source, exported)  # export → import is a round trip
    assert again.events == plan.events
    assert TrackingPlan.objects.count() == 1


def test_only_admins_edit_plans(rep: User, source: Source) -> None:
    with pytest.raises(PermissionDenied):
        services.save_tracking_plan(rep, source, PLAN)
    with pytest.raises(PermissionDenied):
        services.clear_plan_report(rep, source)
    assert not TrackingPlan.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("nope", "A tracking plan is a JSON object with a list of events."),
        (
            {"events": [{"type": "shout", "name": "x"}]},
            "Event 1: type must be one of track, page, screen, identify, group.",
        ),
        (
            {"events": [{"type": "track", "name": " "}]},
            "Event 1: a track event needs a name of at most 200 characters.",
        ),
        ({"events": [{"name": "A"}, {"name": "A"}]}, "Event 2: “A” is listed twice."),
        (
            {"events": [{"name": "A", "properties": [{"name": "x", "type": "date"}]}]},
            "Event 1, property “x”: type must be one of string, number, integer, boolean, object, array.",
        ),
        (
            {
                "events": [
                    {"name": "A", "properties": [{"name": "x", "type": "string"}, {"name": "x", "type": "string"}]}
                ]
            },
            "Event 1: each property needs a distinct name.",
        ),
        ({"events": ["A"]}, "Event 1: must be a JSON object."),
    ],
)
def test_invalid_plans_are_refused_naming_the_event(admin_user: User, source: Source, data: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        services.save_tracking_plan(admin_user, source, data)
    assert caught.value.message_dict == {"events": [message]}
    assert not TrackingPlan.objects.exists()


def test_processing_counts_violations_with_examples_and_still_processes(admin_user: User, source: Source) -> None:
    services.save_tracking_plan(admin_user, source, PLAN)
    land(
        source,
        track(
            "a1", event="Product Viewed", properties={"sku": "S1", "price": 12, "quantity": 2}
        ),  # fine (12 is a number too)
        track(
            "a1", event="Product Viewed", properties={"price": "12", "colour": "red"}, messageId="bad-1"
        ),  # missing, wrong type, unexpected
        track("a1", event="Product Viewed", properties={"sku": None, "quantity": 1.0}),  # null is missing; 1.0 is whole
        *[track("a2", event="Signed Up", messageId=f"su-{n}") for n in range(7)],
        identify("u1", "a3", email="x@example.com"),
        identify("u2", "a4", name="No Mail"),
        {"type": "page", "anonymousId": "a5", "name": "Home"},  # no page entry: not checked
    )
    assert process()["processed"] == 13
    assert LandedEvent.objects.filter(pending_filter()).count() == 0
    assert Profile.objects.filter(identifiers__value="a2").exists()  # violating events are processed
    rows = {
        (v.kind, v.type, v.event, v.property): (v.count, [e["message_id"] for e in v.examples])
        for v in PlanViolation.objects.all()
    }
    missing = rows[("missing_required", "track", "Product Viewed", "sku")]
    assert (missing[0], missing[1][0], len(missing[1])) == (2, "bad-1", 2)
    assert rows[("wrong_type", "track", "Product Viewed", "price")] == (1, ["bad-1"])
    assert rows[("unexpected_property", "track", "Product Viewed", "colour")] == (1, ["bad-1"])
    assert rows[("unexpected_event", "track", "Signed Up", "")] == (7, [f"su-{n}" for n in range(2, 7)])
    assert rows[("unexpected_property", "identify", "", "name")][0] == 1
    assert rows[("missing_required", "identify", "", "email")][0] == 1
    assert len(rows) == 6
    wrong = PlanViolation.objects.get(kind="wrong_type")
    assert wrong.examples[0]["detail"] == "number ≠ string: 12"
    report = plans.plan_report(source)
    assert [(e["type"], e["name"]) for e in report.never_seen] == [("track", "Order Completed")]
    assert [v.event for v in report.unexpected] == ["Signed Up"]
    seen = {(s.type, s.name): s.count for s in SeenEvent.objects.all()}
    assert seen == {("track", "Product Viewed"): 3, ("track", "Signed Up"): 7, ("identify", ""): 2, ("page", "Home"): 1}
    # A second batch adds to the same rows.
    land(source, track("a2", event="Signed Up", messageId="su-late"))
    process()
    late = PlanViolation.objects.get(kind="unexpected_event")
    assert late.count == 8
    assert [e["message_id"] for e in late.examples] == ["su-3", "su-4", "su-5", "su-6", "su-late"]
    assert SeenEvent.objects.get(name="Signed Up").count == 8
    assert services.clear_plan_report(admin_user, source) == 6
    assert not PlanViolation.objects.exists()


def test_a_source_without_a_plan_is_only_counted(source: Source) -> None:
    land(source, track("a1"), track("a1", event="Anything"))
    process()
    assert not PlanViolation.objects.exists()
    assert SeenEvent.objects.count() == 2
    assert plans.plan_report(source).never_seen == []


def test_value_types() -> None:
    values: list[Any] = [True, 3, 3.0, 3.5, "x", {}, [], None]
    assert [plans.value_type(v) for v in values] == [
        "boolean",
        "integer",
        "integer",
        "number",
        "string",
        "object",
        "array",
        "null",
    ]
