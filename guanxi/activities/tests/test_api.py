from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from guanxi.activities.models import Activity, Task, TaskStatus
from guanxi.activities.tests.factories import ActivityFactory, TaskFactory
from guanxi.customers.models import Person
from guanxi.customers.tests.factories import PersonFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db


def _client(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_logging_a_follow_up_through_the_api(rep: User) -> None:
    person = PersonFactory.create(actor=rep, owner=rep)
    asked = timezone.now() - timedelta(hours=1)
    response = _client(rep).post(
        "/api/follow-ups/",
        {
            "person": person.pk,
            "kind": "email",
            "subject": "Quote request",
            "initiated_by": "customer",
            "occurred_at": asked.isoformat(),
            "answered_at": (asked + timedelta(minutes=20)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["response_seconds"] == 1200
    assert Person.objects.get(pk=person.pk).last_follow_up_at == asked


def test_api_refuses_unknown_fields_and_invisible_targets(rep: User, other_rep: User) -> None:
    theirs = PersonFactory.create(actor=other_rep, owner=other_rep)
    response = _client(rep).post(
        "/api/follow-ups/", {"person": theirs.pk, "subject": "x", "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert {e["field"] for e in response.json()["errors"]} == {"colour"}
    response = _client(rep).post("/api/follow-ups/", {"person": theirs.pk, "subject": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "person", "reason": "No such record."}]
    response = _client(rep).post("/api/follow-ups/", {"subject": "about nothing"}, format="json")
    assert response.status_code == 400
    assert not Activity.objects.exists()


def test_follow_up_list_is_filtered_by_visibility(rep: User, other_rep: User) -> None:
    mine = PersonFactory.create(actor=rep, owner=rep)
    theirs = PersonFactory.create(actor=other_rep, owner=other_rep)
    ActivityFactory.create(actor=rep, person=mine, subject="mine")
    ActivityFactory.create(actor=other_rep, person=theirs, subject="theirs")
    body = _client(rep).get("/api/follow-ups/").json()
    assert [row["subject"] for row in body["results"]] == ["mine"]
    assert [r["subject"] for r in _client(rep).get(f"/api/follow-ups/?person={theirs.pk}").json()["results"]] == []


def test_tasks_api_create_complete_and_snooze(rep: User, other_rep: User) -> None:
    client = _client(rep)
    due = timezone.now() + timedelta(days=1)
    created = client.post("/api/tasks/", {"title": "Send contract", "due_at": due.isoformat()}, format="json")
    assert created.status_code == 201
    task_id = created.json()["id"]
    assert created.json()["assignee"] == rep.pk
    assert _client(other_rep).post(f"/api/tasks/{task_id}/complete/").status_code == 404
    until = timezone.now() + timedelta(days=3)
    snoozed = client.post(f"/api/tasks/{task_id}/snooze/", {"until": until.isoformat()}, format="json")
    assert snoozed.status_code == 200
    done = client.post(f"/api/tasks/{task_id}/complete/")
    assert done.json()["status"] == "done"
    assert Task.objects.get(pk=task_id).status == TaskStatus.DONE
    TaskFactory.create(actor=rep, title="open one")
    listed = client.get("/api/tasks/?status=open").json()["results"]
    assert [row["title"] for row in listed] == ["open one"]
