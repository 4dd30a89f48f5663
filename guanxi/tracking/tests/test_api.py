"""REST endpoints of tracking: sources (admins, key once), profiles by visibility, merges and undo."""

import warnings

from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from guanxi.customers import services as customer_services
from guanxi.customers.models import Person
from guanxi.staff.models import User
from guanxi.tracking import services
from guanxi.tracking.models import ProfileMerge, Source
from guanxi.tracking.services.sources import hash_write_key
from guanxi.tracking.tests.test_processing import identify, land, track


def client_for(user: User) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_sources_are_admin_only(rep: User, source: Source) -> None:
    client = client_for(rep)
    assert client.get("/api/tracking/sources/").status_code == 403
    response = client.post("/api/tracking/sources/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert APIClient().get("/api/tracking/sources/").status_code == 401


def test_create_source_returns_the_key_once(admin_user: User) -> None:
    client = client_for(admin_user)
    response = client.post(
        "/api/tracking/sources/", {"name": "App", "identifier_limits": {"anonymous_id": 9}}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    source = Source.objects.get(pk=body["id"])
    assert source.write_key_hash == hash_write_key(body["write_key"])
    assert source.limit_for("anonymous_id") == 9
    detail = client.get(f"/api/tracking/sources/{source.pk}/").json()
    assert "write_key" not in detail
    assert detail["write_key_prefix"] == body["write_key"][:8]
    listed = client.get("/api/tracking/sources/").json()
    assert [s["name"] for s in listed["results"]] == ["App"]


def test_source_input_is_validated(admin_user: User) -> None:
    client = client_for(admin_user)
    response = client.post("/api/tracking/sources/", {"name": "A", "colour": "red"}, format="json")
    assert response.status_code == 400
    response = client.post("/api/tracking/sources/", {"name": "A", "identifier_limits": {"bogus": 3}}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "identifier_limits"
    assert not Source.objects.exists()


def test_update_revoke_and_lag(admin_user: User, source: Source) -> None:
    client = client_for(admin_user)
    response = client.patch(f"/api/tracking/sources/{source.pk}/", {"require_consent_for_joining": True}, format="json")
    assert response.status_code == 200
    assert response.json()["require_consent_for_joining"] is True
    land(source, track("a1"), track("a2"))
    lag = client.get(f"/api/tracking/sources/{source.pk}/lag/").json()
    assert lag["backlog"] == 2
    assert lag["oldest_age_seconds"] >= 0
    revoked = client.post(f"/api/tracking/sources/{source.pk}/revoke/").json()
    assert revoked["is_active"] is False
    assert services.authenticate_write_key(source.write_key) is None  # type: ignore[attr-defined]  # set by the factory


def test_profiles_follow_contact_visibility(admin_user: User, rep: User, other_rep: User, source: Source) -> None:
    land(source, track("anon-1"), identify("u1", "anon-2", email="p@example.com"))
    services.process_landed_events()
    person = Person.objects.get()
    customer_services.bulk_assign_owner(admin_user, Person, [person.pk], other_rep)
    rep_ids = {p["id"] for p in client_for(rep).get("/api/tracking/profiles/").json()["results"]}
    other_ids = {p["id"] for p in client_for(other_rep).get("/api/tracking/profiles/").json()["results"]}
    known = person.tracking_profiles.get().pk
    assert known not in rep_ids
    assert known in other_ids
    assert len(rep_ids) == 1  # the anonymous visitor, like a shared-pool record
    assert client_for(rep).get(f"/api/tracking/profiles/{known}/").status_code == 404
    events = client_for(other_rep).get(f"/api/tracking/profiles/{known}/events/").json()["results"]
    assert [(e["type"], e["processed"]) for e in events] == [("identify", True)]


def test_merge_list_and_undo(admin_user: User, rep: User, source: Source) -> None:
    land(source, track("a1"), identify("u1"))
    services.process_landed_events()
    land(source, track("a1", "u1"))
    services.process_landed_events()
    merge = ProfileMerge.objects.get()
    assert client_for(rep).post(f"/api/tracking/merges/{merge.pk}/undo/").status_code == 403
    client = client_for(admin_user)
    assert [m["status"] for m in client.get("/api/tracking/merges/").json()["results"]] == ["done"]
    response = client.post(f"/api/tracking/merges/{merge.pk}/undo/")
    assert response.status_code == 200
    assert response.json()["status"] == "undone"
    again = client.post(f"/api/tracking/merges/{merge.pk}/undo/")
    assert again.status_code == 400


def test_schema_lists_tracking_endpoints_without_warnings(db: None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schema = Client().get("/api/openapi.json").json()
    for path in (
        "/api/tracking/sources/",
        "/api/tracking/sources/{id}/revoke/",
        "/api/tracking/sources/{id}/lag/",
        "/api/tracking/profiles/",
        "/api/tracking/profiles/{id}/events/",
        "/api/tracking/merges/{id}/undo/",
        "/api/tracking/sources/{id}/plan/",
        "/api/tracking/sources/{id}/quality/",
        "/api/tracking/profiles/{id}/sessions/",
        "/api/tracking/person-traits/{id}/",
    ):
        assert path in schema["paths"], path
