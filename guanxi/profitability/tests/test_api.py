"""Profitability API: visibility of rows, filters, keyset pages, the action endpoint, the schema."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from guanxi.commerce import services as commerce_services
from guanxi.commerce.tests.factories import PriceListFactory
from guanxi.customers.models import Person
from guanxi.profitability.models import CustomerProfit
from guanxi.profitability.tests.factories import loss_scenario, run
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db


def _api(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_anonymous_is_refused() -> None:
    response = APIClient().get("/api/profitability/review/")
    assert response.status_code in (401, 403)
    assert response["Content-Type"].startswith("application/problem+json")


def test_review_lists_visible_losses(rep: User, other_rep: User) -> None:
    s = loss_scenario(rep, other_rep)
    run()
    body = _api(rep).get("/api/profitability/review/").json()
    assert [(r["person"], r["profit"]) for r in body["results"]] == [
        (s.person.pk, "-100.00"),
        (s.pool_person.pk, "-10.00"),
    ]
    first = body["results"][0]
    assert first["customer_type"] == "person"
    assert first["owner"] == rep.pk
    assert (first["revenue"], first["discounts"], first["cost_to_serve"]) == ("100.00", "0.00", "200.00")
    assert first["acquisition_source"] == "web_form"
    assert first["service_level"] == "standard"
    assert first["price_list"] is None


def test_customers_endpoint_filters_and_pages(rep: User, other_rep: User, manager: User) -> None:
    s = loss_scenario(rep, other_rep)
    run()
    api = _api(manager)
    account = api.get("/api/profitability/customers/", {"account": s.account.pk}).json()["results"]
    assert [(r["profit"], r["cac"], r["clv_to_cac"]) for r in account] == [("30.00", "600.00", 2.0)]
    page = api.get("/api/profitability/customers/", {"page_size": "2", "ordering": "-profit_cents"}).json()
    assert [r["profit"] for r in page["results"]] == ["30.00", "-10.00"]
    rest = api.get(page["next"]).json()
    assert [r["profit"] for r in rest["results"]] == ["-100.00", "-100.00"]
    assert rest["next"] is None
    losses = api.get("/api/profitability/customers/", {"loss": "true"}).json()["results"]
    assert len(losses) == 3
    pool = api.get("/api/profitability/customers/", {"owner": "pool"}).json()["results"]
    assert [r["person"] for r in pool] == [s.pool_person.pk]
    assert api.get("/api/profitability/customers/", {"account": "x"}).status_code == 400
    row = CustomerProfit.objects.get(person=s.other_person)
    assert api.get(f"/api/profitability/customers/{row.pk}/").json()["profit"] == "-100.00"
    assert _api(rep).get(f"/api/profitability/customers/{row.pk}/").status_code == 404


def test_action_endpoint(rep: User, other_rep: User, manager: User) -> None:
    s = loss_scenario(rep, other_rep)
    run()
    row = CustomerProfit.objects.get(person=s.person)
    price_list = PriceListFactory.create(name="Basic")
    api = _api(manager)
    response = api.post(
        "/api/profitability/review/actions/",
        {"ids": [row.pk], "action": "price_list", "price_list": price_list.pk},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"changed": 1, "skipped": 0}
    assert commerce_services.assigned_price_list(s.person) == price_list
    level = api.post(
        "/api/profitability/review/actions/",
        {"ids": [row.pk], "action": "service_level", "service_level": "basic"},
        format="json",
    )
    assert level.json() == {"changed": 1, "skipped": 0}
    assert Person.objects.get(pk=s.person.pk).service_level == "basic"
    bad = api.post("/api/profitability/review/actions/", {"ids": [row.pk], "action": "x", "y": 1}, format="json")
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} >= {"action", "y"}
    denied = _api(rep).post(
        "/api/profitability/review/actions/",
        {"ids": [row.pk], "action": "service_level", "service_level": "premium"},
        format="json",
    )
    assert denied.status_code == 403
    released = _api(rep).post(
        "/api/profitability/review/actions/", {"ids": [row.pk], "action": "release"}, format="json"
    )
    assert released.json() == {"changed": 1, "skipped": 0}
    assert Person.objects.get(pk=s.person.pk).owner is None
    assert row.revenue == Decimal("100.00")


def test_openapi_schema_builds(admin_user: User) -> None:
    response = _api(admin_user).get("/api/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/profitability/review/actions/" in paths
    assert "/api/profitability/customers/{id}/" in paths
