"""Pages and API of sessions, computed traits and tracking plans: permissions and content."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import reverse

from guanxi.customers.models import Person
from guanxi.customers.tests.factories import PersonFactory
from guanxi.staff.models import User
from guanxi.tracking import services
from guanxi.tracking.models import PlanViolation, Source, TrackingPlan
from guanxi.tracking.panels import person_panel
from guanxi.tracking.tests.test_api import client_for
from guanxi.tracking.tests.test_plans import PLAN
from guanxi.tracking.tests.test_processing import identify, land, process, profile_of, track
from guanxi.tracking.tests.test_sessions import page


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("tracking:source-plan", "post"),
        ("tracking:source-plan-export", "get"),
        ("tracking:source-plan-clear", "post"),
    ],
)
def test_plan_pages_are_for_admins(client: Client, rep: User, source: Source, name: str, method: str) -> None:
    client.force_login(rep)
    response = getattr(client, method)(reverse(name, args=[source.pk]), {"plan": json.dumps(PLAN)})
    assert response.status_code == 403
    assert not TrackingPlan.objects.exists()


def test_admin_saves_imports_and_exports_a_plan(client: Client, admin_user: User, source: Source) -> None:
    client.force_login(admin_user)
    url = reverse("tracking:source-plan", args=[source.pk])
    response = client.post(url, {"plan": json.dumps(PLAN)})
    assert response.status_code == 302
    assert response["Location"] == reverse("tracking:source-detail", args=[source.pk]) + "#plan"
    assert [e["name"] for e in TrackingPlan.objects.get().events] == ["Product Viewed", "Order Completed", ""]
    upload = SimpleUploadedFile(
        "plan.json", json.dumps({"events": [{"name": "Signed Up"}]}).encode(), "application/json"
    )
    assert client.post(url, {"plan": "", "file": upload}).status_code == 302
    assert [e["name"] for e in TrackingPlan.objects.get().events] == ["Signed Up"]
    exported = client.get(reverse("tracking:source-plan-export", args=[source.pk]))
    assert exported["Content-Disposition"] == f'attachment; filename="tracking-plan-{source.pk}.json"'
    assert json.loads(exported.content)["events"][0]["name"] == "Signed Up"


def test_a_bad_plan_is_shown_with_its_errors(client: Client, admin_user: User, source: Source) -> None:
    client.force_login(admin_user)
    url = reverse("tracking:source-plan", args=[source.pk])
    response = client.post(url, {"plan": "{broken"})
    assert response.status_code == 400
    assert "The plan is not valid JSON" in response.content.decode()
    response = client.post(url, {"plan": json.dumps({"events": [{"type": "shout", "name": "x"}]})})
    assert response.status_code == 400
    assert "Event 1: type must be one of" in response.content.decode()
    assert not TrackingPlan.objects.exists()


def test_source_page_reports_quality(client: Client, admin_user: User, source: Source) -> None:
    services.save_tracking_plan(admin_user, source, PLAN)
    land(source, track("a1", event="Signed <b>Up</b>", messageId="m-x"), track("a1", event="Product Viewed"))
    process()
    client.force_login(admin_user)
    response = client.get(reverse("tracking:source-detail", args=[source.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Signed &lt;b&gt;Up&lt;/b&gt;" in html  # user content escaped
    assert "m-x" in html
    assert "Order Completed" in html  # planned, never seen
    cleared = client.post(reverse("tracking:source-plan-clear", args=[source.pk]))
    assert cleared.status_code == 302
    assert not PlanViolation.objects.exists()


def test_profile_page_shows_traits_and_sessions(client: Client, rep: User, source: Source) -> None:
    land(source, page("a1", 0), page("a1", 90))
    process()
    profile = profile_of("anonymous_id", "a1")
    client.force_login(rep)
    response = client.get(reverse("tracking:profile-detail", args=[profile.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="computed-traits"' in html
    assert html.count("https://shop.example/") >= 2  # each session's first page


def test_person_panel_follows_visibility(rep: User, outside_rep: User, source: Source) -> None:
    land(source, identify("u1", "a1", email="ann@example.com"), page("a1", 0))
    process()
    person = Person.objects.get()
    person.owner = rep
    person.save(update_fields=["owner"])
    request = RequestFactory().get("/")
    request.user = rep
    assert "Online behaviour" in str(person_panel(request, person))
    request.user = outside_rep
    assert person_panel(request, person) == ""


def test_api_plan_quality_and_profile_traits(admin_user: User, rep: User, source: Source) -> None:
    admin = client_for(admin_user)
    assert client_for(rep).get(f"/api/tracking/sources/{source.pk}/plan/").status_code == 403
    response = admin.put(f"/api/tracking/sources/{source.pk}/plan/", PLAN, format="json")
    assert response.status_code == 200
    assert [e["name"] for e in response.json()["events"]] == ["Product Viewed", "Order Completed", ""]
    bad = admin.put(f"/api/tracking/sources/{source.pk}/plan/", {"events": "x"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "events"
    land(source, track("a1", event="Signed Up"), page("a1", 0), page("a1", 60))
    process()
    quality = admin.get(f"/api/tracking/sources/{source.pk}/quality/").json()
    assert [(v["kind"], v["event"], v["count"]) for v in quality["unexpected"]] == [
        ("unexpected_event", "Signed Up", 1)
    ]
    assert {"type": "track", "name": "Order Completed"} in quality["never_seen"]
    profile = profile_of("anonymous_id", "a1")
    body = client_for(rep).get(f"/api/tracking/profiles/{profile.pk}/").json()
    assert body["computed_traits"]["event_count"] == 3
    assert body["computed_traits"]["session_count"] == 3  # the track call came now, far after the pages
    sessions = client_for(rep).get(f"/api/tracking/profiles/{profile.pk}/sessions/").json()
    assert [s["page_views"] for s in sessions["results"]] == [0, 1, 1]
    assert sessions["results"][0]["started_at"] > sessions["results"][1]["started_at"]


def test_api_person_traits_follow_visibility(rep: User, outside_rep: User, source: Source) -> None:
    land(source, identify("u1", "a1", email="ann@example.com"), page("a1", 0))
    process()
    person = Person.objects.get()
    person.owner = rep
    person.save(update_fields=["owner"])
    body = client_for(rep).get(f"/api/tracking/person-traits/{person.pk}/").json()
    assert (body["person"], body["profiles"], body["computed_traits"]["page_views"]) == (person.pk, 1, 1)
    assert client_for(outside_rep).get(f"/api/tracking/person-traits/{person.pk}/").status_code == 404
    untracked = PersonFactory.create(owner=rep)
    body = client_for(rep).get(f"/api/tracking/person-traits/{untracked.pk}/").json()
    assert (body["profiles"], body["computed_traits"], body["first_seen"]) == (0, None, None)
