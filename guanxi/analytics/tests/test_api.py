"""Next-offers API and run history API: visibility, validation, one indexed read."""

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from pytest_django import DjangoAssertNumQueries
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from guanxi.analytics import services
from guanxi.analytics.models import OfferSuggestion
from guanxi.analytics.tests.factories import order, product
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def client_for(user: User) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def offers(db: None, rep: User, other_rep: User) -> dict[str, Any]:
    """Five baskets teach 'tea ⇒ cups'; a rep's own contact and another rep's bought tea only."""
    at = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    for i, basket in enumerate([("tea", "cups"), ("tea", "cups"), ("tea", "cups", "honey"), ("tea", "honey")]):
        order(PersonFactory.create(family_name=f"Buyer{i}"), at, 10, products=basket)
    mine = PersonFactory.create(family_name="Mine", owner=rep, actor=rep)
    theirs = PersonFactory.create(family_name="Theirs", owner=other_rep, actor=other_rep)
    account = AccountFactory.create(name="Tea House")
    for party in (mine, theirs, account):
        order(party, at, 10, products=("tea",))
    services.run_rules(None, min_support=0.3, min_confidence=0.4)
    return {"mine": mine, "theirs": theirs, "account": account, "cups": product("cups"), "honey": product("honey")}


def test_next_offers_for_a_person(offers: dict[str, Any], rep: User) -> None:
    response = client_for(rep).get("/api/next-offers/", {"person": offers["mine"].pk})
    assert response.status_code == 200
    body = response.json()
    assert [row["product"] for row in body] == [offers["cups"].pk]
    first = body[0]
    assert first["rank"] == 1
    assert first["product_name"] == "cups"
    assert first["because_names"] == ["tea"]
    # 7 baskets hold tea, 3 of them cups too; cups are in 3 of 7 baskets: lift 1.
    assert first["confidence"] == pytest.approx(3 / 7)
    assert first["lift"] == pytest.approx(1.0)


def test_next_offers_for_an_account_and_limit(offers: dict[str, Any], admin_user: User) -> None:
    response = client_for(admin_user).get("/api/next-offers/", {"account": offers["account"].pk, "limit": 1})
    assert response.status_code == 200
    assert [row["product"] for row in response.json()] == [offers["cups"].pk]


def test_a_customer_the_caller_may_not_see_is_a_404(offers: dict[str, Any], rep: User) -> None:
    response = client_for(rep).get("/api/next-offers/", {"person": offers["theirs"].pk})
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_bad_input_is_a_problem_naming_the_field(offers: dict[str, Any], admin_user: User) -> None:
    client = client_for(admin_user)
    for params, field in (
        ({}, "person"),
        ({"person": 1, "account": 1}, "person"),
        ({"person": "x"}, "person"),
        ({"person": offers["mine"].pk, "limit": 99}, "limit"),
    ):
        response = client.get("/api/next-offers/", params)
        assert response.status_code == 400, params
        assert response["Content-Type"] == PROBLEM
        assert [e["field"] for e in response.json()["errors"]] == [field]


def test_anonymous_callers_are_refused(offers: dict[str, Any]) -> None:
    response = APIClient().get("/api/next-offers/", {"person": offers["mine"].pk})
    assert response.status_code == 401


def test_next_offers_is_a_fixed_number_of_indexed_reads(
    offers: dict[str, Any], admin_user: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = client_for(admin_user)
    # Token + user, then the offers with their products, filtered by visibility.
    with django_assert_num_queries(2):
        response = client.get("/api/next-offers/", {"person": offers["mine"].pk})
    assert response.status_code == 200


def test_a_rep_gets_offers_of_own_customers_in_two_queries(
    offers: dict[str, Any], rep: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = client_for(rep)
    with django_assert_num_queries(2):
        response = client.get("/api/next-offers/", {"person": offers["mine"].pk})
    assert [row["product"] for row in response.json()] == [offers["cups"].pk]


def test_a_visible_customer_without_offers_gets_an_empty_list(offers: dict[str, Any], rep: User) -> None:
    pooled = PersonFactory.create(family_name="Pool")
    response = client_for(rep).get("/api/next-offers/", {"person": pooled.pk})
    assert (response.status_code, response.json()) == (200, [])


def test_offers_are_read_through_the_person_rank_index(offers: dict[str, Any]) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the plan text checked is SQLite's")
    sql, params = (
        OfferSuggestion.objects.filter(person_id=offers["mine"].pk).order_by("rank")[:5].query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "analytics_offer_person_idx" in plan


def test_run_history_is_for_analytics_roles(offers: dict[str, Any], analyst: User, rep: User) -> None:
    response = client_for(analyst).get("/api/analytics-runs/")
    assert response.status_code == 200
    runs = response.json()["results"]
    assert [run["kind"] for run in runs] == ["rules"]
    assert runs[0]["quality"]["baskets"] == 7
    assert client_for(rep).get("/api/analytics-runs/").status_code == 403
