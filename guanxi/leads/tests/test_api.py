"""/api/leads/: token auth, visibility, problem+json errors, filters, keyset paging, convert."""

from typing import Any

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from guanxi.customers.models import Account, Role
from guanxi.leads.models import Lead
from guanxi.leads.tests.factories import AssignmentRuleFactory, LeadFactory, ScoringRuleFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db


def client_for(user: User) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_anonymous_is_refused_as_problem_json() -> None:
    response = APIClient().get("/api/leads/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_create_runs_rules_and_scores(rep: User, admin_user: User) -> None:
    AssignmentRuleFactory.create(name="API leads", sources=["api"], assign_to=rep)
    ScoringRuleFactory.create(label="Has phone", kind="field_filled", field="phone", points=30)
    response = client_for(admin_user).post(
        "/api/leads/",
        {"family_name": "周", "given_name": "杰", "phone": "13812345678", "attributes": {"size": "50"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"] == body["url"]
    assert (body["source"], body["owner"], body["phone"], body["score"], body["grade"]) == (
        "api",
        rep.pk,
        "+8613812345678",
        30,
        "C",
    )
    assert body["score_reasons"] == [{"rule": body["score_reasons"][0]["rule"], "label": "Has phone", "points": 30}]
    assert body["attributes"] == {"size": "50"}


def test_create_refuses_unknown_and_bad_fields(rep: User) -> None:
    response = client_for(rep).post("/api/leads/", {"family_name": "x", "email": "bad", "colour": "red"}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert {e["field"] for e in response.json()["errors"]} == {"colour"}
    response = client_for(rep).post("/api/leads/", {"family_name": "x", "email": "bad"}, format="json")
    assert {e["field"] for e in response.json()["errors"]} == {"email"}


def test_list_visibility_filters_and_paging(rep: User, other_rep: User, django_assert_max_num_queries: Any) -> None:
    for i in range(5):
        LeadFactory.create(actor=rep, owner=rep, family_name=f"R{i}", source="trade_show" if i % 2 else "cold_call")
    LeadFactory.create(actor=other_rep, owner=other_rep, family_name="Hidden")
    client = client_for(rep)
    with django_assert_max_num_queries(6 if connection.vendor == "sqlite" else 5):
        first = client.get("/api/leads/", {"page_size": "2", "ordering": "created_at"}).json()
    seen = [row["family_name"] for row in first["results"]]
    second = client.get(first["next"]).json()
    seen += [row["family_name"] for row in second["results"]]
    assert seen == ["R0", "R1", "R2", "R3"]
    trade = client.get("/api/leads/", {"source": "trade_show"}).json()["results"]
    assert sorted(row["family_name"] for row in trade) == ["R1", "R3"]
    assert client.get("/api/leads/", {"q": "Hidden"}).json()["results"] == []
    bad = client.get("/api/leads/", {"grade": "Z"})
    assert bad.status_code == 400


def test_detail_hidden_is_404_and_update_by_non_owner_is_403(rep: User, other_rep: User, manager: User) -> None:
    theirs = LeadFactory.create(actor=other_rep, owner=other_rep)
    assert client_for(rep).get(f"/api/leads/{theirs.pk}/").status_code == 404
    pool = LeadFactory.create(actor=rep, owner=None)
    assert client_for(rep).patch(f"/api/leads/{pool.pk}/", {"industry": "IT"}, format="json").status_code == 403
    assert client_for(manager).patch(f"/api/leads/{theirs.pk}/", {"industry": "IT"}, format="json").status_code == 200


def test_update_fields_status_and_grade(rep: User) -> None:
    lead = LeadFactory.create(actor=rep, owner=rep)
    client = client_for(rep)
    response = client.patch(f"/api/leads/{lead.pk}/", {"status": "disqualified", "industry": "Retail"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "disqualified_reason", "reason": "Say why the lead is disqualified."}
    ]
    lead.refresh_from_db()
    assert lead.industry == ""  # one transaction: the field change rolled back too
    body = client.patch(
        f"/api/leads/{lead.pk}/", {"status": "qualified", "grade": "A", "industry": "Retail"}, format="json"
    ).json()
    assert (body["status"], body["grade"], body["grade_is_manual"], body["industry"]) == (
        "qualified",
        "A",
        True,
        "Retail",
    )


def test_convert_action(rep: User) -> None:
    lead = LeadFactory.create(
        actor=rep, owner=rep, company_name="Acme 贸易", family_name="林", given_name="芳", status="qualified"
    )
    response = client_for(rep).post(
        f"/api/leads/{lead.pk}/convert/",
        {"create_opportunity": True, "opportunity": {"name": "Pilot", "amount": "12000.00"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    account = Account.objects.get()
    assert (body["account"], body["account_created"], body["lead"]["status"]) == (account.pk, True, "converted")
    assert Role.objects.get().person_id == body["person"]
    assert body["opportunity"] is not None
    assert Lead.objects.get().converted_opportunity_id == body["opportunity"]
    again = client_for(rep).post(f"/api/leads/{lead.pk}/convert/", {}, format="json")
    assert again.status_code == 400
    assert again.json()["errors"][0]["field"] == "status"


def test_delete_is_not_offered(admin_user: User) -> None:
    lead = LeadFactory.create()
    assert client_for(admin_user).delete(f"/api/leads/{lead.pk}/").status_code == 405


def test_openapi_documents_leads(admin_user: User) -> None:
    client = APIClient()
    client.force_login(admin_user)
    schema = client.get("/api/openapi.json").json()
    assert "/api/leads/{id}/convert/" in schema["paths"]
    assert "post" in schema["paths"]["/api/leads/"]
