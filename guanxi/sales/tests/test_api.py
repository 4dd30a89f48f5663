"""The sales REST API: visibility, validation as problem+json, filters, paging and actions."""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from guanxi.commerce.models import Order
from guanxi.customers.models import AccountKind
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.customers.tests.test_api import PROBLEM, client_for, problem_fields
from guanxi.sales import services
from guanxi.sales.models import Opportunity, StageKind
from guanxi.sales.tests.factories import OpportunityFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db


def _ids(response: Any) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_requires_authentication() -> None:
    response = APIClient().get("/api/opportunities/")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM


def test_list_is_visibility_filtered_and_paged(rep: User, outside_rep: User) -> None:
    mine = [OpportunityFactory.create(actor=rep, name=f"M{i}") for i in range(3)]
    hidden = OpportunityFactory.create(actor=outside_rep)
    api = client_for(rep)
    first = api.get("/api/opportunities/", {"page_size": 2})
    assert _ids(first) == [mine[2].pk, mine[1].pk]
    second = api.get(first.json()["next"])
    assert _ids(second) == [mine[0].pk]
    assert api.get(f"/api/opportunities/{hidden.pk}/").status_code == 404
    assert _ids(api.get("/api/opportunities/", {"q": "M1"})) == [mine[1].pk]
    assert _ids(api.get("/api/opportunities/", {"status": "won"})) == []


def test_create_with_contacts_and_lines(rep: User) -> None:
    account = AccountFactory.create(owner=rep)
    person = PersonFactory.create(owner=rep)
    api = client_for(rep)
    response = api.post(
        "/api/opportunities/",
        {
            "name": "API deal",
            "account": account.pk,
            "expected_close_date": "2026-06-30",
            "contacts": [{"person": person.pk, "role": "decision_maker", "is_primary": True}],
            "lines": [{"description": "Seats", "quantity": "4", "unit_price": "250.00"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["amount"], body["probability"], body["status"], body["owner"]) == ("1000.00", 10, "open", rep.pk)
    assert response["Location"] == body["url"]
    contacts = api.get(f"/api/opportunities/{body['id']}/contacts/").json()
    assert [(c["person"], c["role"], c["is_primary"]) for c in contacts] == [(person.pk, "decision_maker", True)]


def test_create_errors_are_problem_json(rep: User) -> None:
    api = client_for(rep)
    response = api.post("/api/opportunities/", {"name": "X", "colour": "red"}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert problem_fields(response) == {"colour"}
    response = api.post("/api/opportunities/", {"name": "X"}, format="json")
    assert problem_fields(response) == {"account"}


def test_move_action_needs_lost_reason_and_wins(rep: User, other_rep: User) -> None:
    deal = OpportunityFactory.create(actor=rep, amount=Decimal("10"))
    lost = deal.pipeline.stages.get(kind=StageKind.LOST)
    won = deal.pipeline.stages.get(kind=StageKind.WON)
    api = client_for(rep)
    response = api.post(f"/api/opportunities/{deal.pk}/move/", {"stage": lost.pk}, format="json")
    assert response.status_code == 400
    assert problem_fields(response) == {"lost_reason"}
    response = api.post(f"/api/opportunities/{deal.pk}/move/", {"stage": won.pk}, format="json")
    assert response.json()["status"] == "won"
    assert client_for(other_rep).post(f"/api/opportunities/{deal.pk}/move/", {"stage": lost.pk}).status_code == 404


def test_update_refuses_stage_and_others_cannot_change(rep: User, manager: User, admin_user: User) -> None:
    deal = OpportunityFactory.create(actor=rep)
    api = client_for(rep)
    response = api.patch(f"/api/opportunities/{deal.pk}/", {"stage": deal.stage_id}, format="json")
    assert problem_fields(response) == {"stage"}
    response = api.patch(f"/api/opportunities/{deal.pk}/", {"next_step": "Demo", "is_committed": True}, format="json")
    assert (response.json()["next_step"], response.json()["is_committed"]) == ("Demo", True)
    assert (
        client_for(manager).patch(f"/api/opportunities/{deal.pk}/", {"name": "Team"}, format="json").status_code == 200
    )
    assert client_for(admin_user).delete(f"/api/opportunities/{deal.pk}/").status_code == 204
    assert not Opportunity.objects.filter(pk=deal.pk).exists()


def test_lines_and_competitors_endpoints(rep: User) -> None:
    deal = OpportunityFactory.create(actor=rep)
    rival = AccountFactory.create(name="Rival", kind=AccountKind.COMPETITOR)
    api = client_for(rep)
    line = api.post(
        f"/api/opportunities/{deal.pk}/lines/",
        {"description": "Box", "quantity": "2", "unit_price": "5"},
        format="json",
    )
    assert line.status_code == 201
    assert line.json()["line_total"] == "10.00"
    assert api.get(f"/api/opportunities/{deal.pk}/").json()["amount"] == "10.00"
    assert api.delete(f"/api/opportunities/{deal.pk}/lines/{line.json()['id']}/").status_code == 204
    competitor = api.post(
        f"/api/opportunities/{deal.pk}/competitors/", {"competitor": rival.pk, "offer": "Cheaper"}, format="json"
    )
    assert competitor.status_code == 201
    assert api.get(f"/api/opportunities/{deal.pk}/competitors/").json()[0]["competitor_name"] == "Rival"
    customer = AccountFactory.create(owner=rep)
    bad = api.post(f"/api/opportunities/{deal.pk}/competitors/", {"competitor": customer.pk}, format="json")
    assert problem_fields(bad) == {"competitor"}
    row_url = f"/api/opportunities/{deal.pk}/competitors/{competitor.json()['id']}/"
    changed = api.patch(row_url, {"offer": "Free setup", "amount": "90.00"}, format="json")
    assert (changed.json()["offer"], changed.json()["amount"]) == ("Free setup", "90.00")
    assert problem_fields(api.patch(row_url, {"competitor": rival.pk}, format="json")) == {"competitor"}


def test_contacts_and_lines_change_through_patch(rep: User, other_rep: User) -> None:
    person = PersonFactory.create(owner=rep)
    deal = OpportunityFactory.create(actor=rep, contacts=[{"person": person, "role": "buyer"}])
    api = client_for(rep)
    contact_id = deal.contacts.get().pk
    contact_url = f"/api/opportunities/{deal.pk}/contacts/{contact_id}/"
    assert client_for(other_rep).patch(contact_url, {"role": "user"}, format="json").status_code == 404
    changed = api.patch(contact_url, {"role": "user", "is_primary": True}, format="json")
    assert (changed.json()["role"], changed.json()["is_primary"]) == ("user", True)
    assert problem_fields(api.patch(contact_url, {"role": "boss"}, format="json")) == {"role"}
    line = api.post(f"/api/opportunities/{deal.pk}/lines/", {"description": "Box", "unit_price": "5"}, format="json")
    line_url = f"/api/opportunities/{deal.pk}/lines/{line.json()['id']}/"
    assert api.patch(line_url, {"quantity": "4"}, format="json").json()["line_total"] == "20.00"
    assert api.get(f"/api/opportunities/{deal.pk}/").json()["amount"] == "20.00"
    assert api.delete(contact_url).status_code == 204


def test_pipelines_read_by_all_written_by_admins(rep: User, admin_user: User) -> None:
    services.ensure_default_pipeline()
    body = client_for(rep).get("/api/pipelines/").json()
    assert [s["name"] for s in body[0]["stages"]][:2] == ["Qualification", "Needs analysis"]
    assert client_for(rep).post("/api/pipelines/", {"name": "Mine"}, format="json").status_code == 403
    created = client_for(admin_user).post("/api/pipelines/", {"name": "Renewals"}, format="json")
    assert created.status_code == 201
    pipeline_id = created.json()["id"]
    stage = client_for(admin_user).post(
        f"/api/pipelines/{pipeline_id}/stages/", {"name": "Demo", "probability": 40}, format="json"
    )
    assert stage.status_code == 201
    ids = [s["id"] for s in created.json()["stages"]]
    reordered = client_for(admin_user).post(
        f"/api/pipelines/{pipeline_id}/reorder/", {"stages": [stage.json()["id"], *ids]}, format="json"
    )
    assert reordered.json()["stages"][0]["name"] == "Demo"
    patched = client_for(admin_user).patch(f"/api/stages/{stage.json()['id']}/", {"probability": 45}, format="json")
    assert patched.json()["probability"] == 45


def test_quote_create_accept(rep: User) -> None:
    deal = OpportunityFactory.create(
        actor=rep, expected_close_date=datetime.date(2026, 9, 1), lines=[{"description": "Kit", "unit_price": "100"}]
    )
    api = client_for(rep)
    created = api.post(
        "/api/quotes/", {"opportunity": deal.pk, "from_opportunity_lines": True, "tax_rate": "10"}, format="json"
    )
    assert created.status_code == 201, created.content
    quote = created.json()
    assert (quote["total_amount"], quote["status"], len(quote["lines"])) == ("110.00", "draft", 1)
    accepted = api.post(f"/api/quotes/{quote['id']}/accept/")
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert Order.objects.get(number=accepted.json()["order_number"]).total_amount == Decimal("110.00")
    again = api.post(f"/api/quotes/{quote['id']}/accept/")
    assert problem_fields(again) == {"status"}


def test_schema_lists_sales_endpoints(client: Any, db: None) -> None:
    schema = client.get("/api/openapi.json").json()
    for path in (
        "/api/opportunities/",
        "/api/opportunities/{id}/move/",
        "/api/opportunities/{id}/contacts/",
        "/api/opportunities/{id}/lines/",
        "/api/opportunities/{id}/competitors/",
        "/api/pipelines/",
        "/api/pipelines/{id}/stages/",
        "/api/quotes/{id}/accept/",
    ):
        assert path in schema["paths"], path
