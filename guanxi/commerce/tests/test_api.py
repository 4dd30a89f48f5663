"""The commerce API: visibility through the buyer, validation as problem+json, the shop feed."""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from pytest_django import DjangoAssertNumQueries
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from guanxi.commerce import services
from guanxi.commerce.models import Order, Payment
from guanxi.commerce.tests.factories import OrderFactory, PriceListFactory, ProductFactory
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
D = Decimal


def client_for(user: User) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def problem_fields(response: Any) -> set[str]:
    assert response["Content-Type"] == PROBLEM, response.content
    return {error["field"] for error in response.json()["errors"]}


def ids(response: Any) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_create_order_with_buyer_and_line_user(rep: User) -> None:
    parent = PersonFactory.create(actor=rep, family_name="陈", given_name="静")
    child = PersonFactory.create(actor=rep, family_name="陈", given_name="小宝")
    product = ProductFactory.create(unit_price=D("99.90"))
    response = client_for(rep).post(
        "/api/orders/",
        {
            "buyer_person": parent.pk,
            "channel": "direct",
            "lines": [{"product": product.pk, "quantity": "2", "user_person": child.pk}],
            "tax_amount": "10.00",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == "SO-000001"
    assert (body["buyer_person_name"], body["total_amount"], body["paid_amount"]) == ("陈静", "209.80", "0.00")
    assert [(line["user_person"], line["user_person_name"], line["line_total"]) for line in body["lines"]] == [
        (child.pk, "陈小宝", "199.80")
    ]


def test_create_order_errors_name_the_line_field(rep: User) -> None:
    buyer = PersonFactory.create(actor=rep)
    product = ProductFactory.create()
    response = client_for(rep).post(
        "/api/orders/",
        {"buyer_person": buyer.pk, "lines": [{"product": product.pk}, {"product": product.pk, "quantity": "0"}]},
        format="json",
    )
    assert response.status_code == 400
    assert problem_fields(response) == {"lines[1].quantity"}
    assert Order.objects.count() == 0


def test_buyer_the_user_may_not_see_is_refused_like_a_missing_one(rep: User, outside_rep: User) -> None:
    theirs = PersonFactory.create(actor=outside_rep)
    response = client_for(rep).post(
        "/api/orders/", {"buyer_person": theirs.pk, "lines": [{"description": "x", "unit_price": "1"}]}, format="json"
    )
    assert response.status_code == 400
    assert problem_fields(response) == {"buyer_person"}


def test_unknown_fields_are_refused(rep: User) -> None:
    buyer = PersonFactory.create(actor=rep)
    response = client_for(rep).post(
        "/api/orders/",
        {"buyer_person": buyer.pk, "colour": "red", "lines": [{"description": "x", "unit_price": "1", "size": 3}]},
        format="json",
    )
    assert response.status_code == 400
    assert problem_fields(response) == {"colour", "lines.0.size"}


def test_order_visibility_follows_the_buyer(rep: User, other_rep: User, manager: User, outside_rep: User) -> None:
    mine = OrderFactory.create(actor=rep, buyer_person=PersonFactory.create(actor=rep))
    pool = OrderFactory.create(buyer_person=PersonFactory.create())
    theirs = OrderFactory.create(actor=other_rep, buyer_person=PersonFactory.create(actor=other_rep))
    account = AccountFactory.create(actor=outside_rep)
    outside = OrderFactory.create(actor=outside_rep, buyer_account=account)
    assert sorted(ids(client_for(rep).get("/api/orders/"))) == sorted([mine.pk, pool.pk])
    assert sorted(ids(client_for(manager).get("/api/orders/"))) == sorted([mine.pk, pool.pk, theirs.pk])
    assert client_for(rep).get(f"/api/orders/{theirs.pk}/").status_code == 404
    analyst = UserFactory.create(role=StaffRole.ANALYST)
    assert len(ids(client_for(analyst).get("/api/orders/"))) == 4
    assert client_for(outside_rep).get(f"/api/orders/{outside.pk}/").status_code == 200
    assert client_for(rep).get("/api/payments/").json()["results"] == []


def test_order_list_filters_and_order(admin_user: User) -> None:
    buyer = PersonFactory.create(family_name="欧阳", given_name="娜娜")
    other = PersonFactory.create(family_name="Smith", given_name="Anna")
    first = OrderFactory.create(
        buyer_person=buyer, ordered_at=datetime.datetime(2026, 1, 5, 10, tzinfo=datetime.UTC), channel="online_shop"
    )
    second = OrderFactory.create(
        buyer_person=buyer, ordered_at=datetime.datetime(2026, 2, 5, 10, tzinfo=datetime.UTC), status="pending"
    )
    third = OrderFactory.create(buyer_person=other, ordered_at=datetime.datetime(2026, 3, 5, 10, tzinfo=datetime.UTC))
    client = client_for(admin_user)
    assert ids(client.get("/api/orders/")) == [third.pk, second.pk, first.pk]
    assert ids(client.get("/api/orders/?ordering=ordered_at")) == [first.pk, second.pk, third.pk]
    assert ids(client.get(f"/api/orders/?buyer_person={buyer.pk}")) == [second.pk, first.pk]
    assert ids(client.get("/api/orders/?status=pending")) == [second.pk]
    assert ids(client.get("/api/orders/?channel=online_shop")) == [first.pk]
    assert ids(client.get("/api/orders/?date_from=2026-02-01&date_to=2026-03-05")) == [third.pk, second.pk]
    assert ids(client.get("/api/orders/?q=娜娜")) == [second.pk, first.pk]
    assert ids(client.get(f"/api/orders/?q={third.number}")) == [third.pk]
    page = client.get("/api/orders/?page_size=2").json()
    assert len(page["results"]) == 2
    assert ids(client.get(page["next"])) == [first.pk]


def test_order_list_query_count_does_not_grow(rep: User, django_assert_num_queries: DjangoAssertNumQueries) -> None:
    for _ in range(3):
        OrderFactory.create(actor=rep, buyer_person=PersonFactory.create(actor=rep))
    client = client_for(rep)
    # token user, orders page with both buyers joined
    with django_assert_num_queries(2):
        assert len(ids(client.get("/api/orders/"))) == 3
    for _ in range(3):
        OrderFactory.create(actor=rep, buyer_account=AccountFactory.create(actor=rep))
    with django_assert_num_queries(2):
        assert len(ids(client.get("/api/orders/"))) == 6


def test_order_detail_query_count(rep: User, django_assert_num_queries: DjangoAssertNumQueries) -> None:
    order = OrderFactory.create(
        actor=rep,
        buyer_person=PersonFactory.create(actor=rep),
        lines=[{"product": ProductFactory.create(), "user_person": PersonFactory.create(actor=rep)} for _ in range(4)],
    )
    services.record_payment(rep, order, D("10"), None, "cash", "")
    client = client_for(rep)
    with django_assert_num_queries(4):  # token user, order with buyers, lines with products and users, payments
        body = client.get(f"/api/orders/{order.pk}/").json()
    assert len(body["lines"]) == 4
    assert [p["amount"] for p in body["payments"]] == ["10.00"]


def test_status_action_and_refused_transition(rep: User) -> None:
    order = OrderFactory.create(actor=rep, buyer_person=PersonFactory.create(actor=rep))
    client = client_for(rep)
    response = client.post(f"/api/orders/{order.pk}/status/", {"status": "fulfilled"}, format="json")
    assert response.json()["status"] == "fulfilled"
    response = client.post(f"/api/orders/{order.pk}/status/", {"status": "pending"}, format="json")
    assert response.status_code == 400
    assert problem_fields(response) == {"status"}


def test_payments_endpoint(rep: User, outside_rep: User) -> None:
    order = OrderFactory.create(actor=rep, buyer_person=PersonFactory.create(actor=rep))
    client = client_for(rep)
    response = client.post(
        "/api/payments/",
        {"order": order.pk, "amount": "60.00", "method": "wechat_pay", "reference": "W1"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert client.get(f"/api/orders/{order.pk}/").json()["paid_amount"] == "60.00"
    response = client.post("/api/payments/", {"order": order.pk, "amount": "60.00"}, format="json")
    assert problem_fields(response) == {"amount"}
    response = client_for(outside_rep).post("/api/payments/", {"order": order.pk, "amount": "1"}, format="json")
    assert response.status_code == 404
    assert [p["reference"] for p in client.get(f"/api/payments/?order={order.pk}").json()["results"]] == ["W1"]
    assert Payment.objects.count() == 1


def test_marketer_reads_but_may_not_write(rep: User) -> None:
    marketer = UserFactory.create(role=StaffRole.MARKETER)
    order = OrderFactory.create(actor=rep, buyer_person=PersonFactory.create(actor=rep))
    client = client_for(marketer)
    assert client.get(f"/api/orders/{order.pk}/").status_code == 200
    response = client.post(f"/api/orders/{order.pk}/status/", {"status": "cancelled"}, format="json")
    assert response.status_code == 403
    assert client.post("/api/orders/bulk/", {"orders": [{}]}, format="json").status_code == 403


def test_bulk_endpoint_is_idempotent_and_keeps_good_orders(admin_user: User) -> None:
    ProductFactory.create(sku="TEA-1", unit_price=D("45"))
    feed = {
        "orders": [
            {"external_id": "s-1", "buyer_email": "a@example.com", "lines": [{"sku": "TEA-1", "quantity": 2}]},
            {"external_id": "s-2", "buyer_email": "b@example.com", "lines": [{"sku": "NOPE"}]},
        ]
    }
    client = client_for(admin_user)
    first = client.post("/api/orders/bulk/", feed, format="json").json()
    assert [row["external_id"] for row in first["created"]] == ["s-1"]
    assert first["errors"] == [
        {"index": 1, "external_id": "s-2", "field": "lines[0].sku", "reason": "No product with SKU NOPE."}
    ]
    second = client.post("/api/orders/bulk/", feed, format="json").json()
    assert second["created"] == []
    assert [(row["external_id"], row["id"]) for row in second["existing"]] == [("s-1", first["created"][0]["id"])]
    assert Order.objects.count() == 1


def test_bulk_endpoint_limits_the_batch(admin_user: User) -> None:
    response = client_for(admin_user).post("/api/orders/bulk/", {"orders": [{}] * 1001}, format="json")
    assert response.status_code == 400
    assert problem_fields(response) == {"orders"}


def test_catalogue_read_by_all_changed_by_managers(rep: User, manager: User) -> None:
    product = ProductFactory.create(sku="KET-1", name="Kettle")
    assert ids(client_for(rep).get("/api/products/?q=ket")) == [product.pk]
    response = client_for(rep).post("/api/products/", {"sku": "X", "name": "X", "unit_price": "1"}, format="json")
    assert response.status_code == 403
    response = client_for(manager).post(
        "/api/products/", {"sku": "KET-1", "name": "Again", "unit_price": "1"}, format="json"
    )
    assert problem_fields(response) == {"sku"}
    response = client_for(manager).patch(f"/api/products/{product.pk}/", {"is_active": False}, format="json")
    assert response.json()["is_active"] is False
    assert ids(client_for(rep).get("/api/products/?active=yes")) == []


def test_price_list_with_items(manager: User) -> None:
    product = ProductFactory.create(name="Kettle")
    price_list = PriceListFactory.create(name="Retail", currency="CNY", prices={product: D("88")})
    client = client_for(manager)
    body = client.get(f"/api/price-lists/{price_list.pk}/").json()
    assert [(item["sku"], item["unit_price"]) for item in body["items"]] == [(product.sku, "88.00")]
    response = client.post(
        f"/api/price-lists/{price_list.pk}/prices/", {"product": product.pk, "unit_price": "77"}, format="json"
    )
    assert response.json()["unit_price"] == "77.00"
    response = client.post("/api/price-lists/", {"name": "USD list", "currency": "usd"}, format="json")
    assert response.status_code == 201
    assert response.json()["currency"] == "USD"


def test_schema_lists_the_commerce_endpoints(admin_user: User) -> None:
    schema = client_for(admin_user).get("/api/openapi.json?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/orders/",
        "/api/orders/{id}/",
        "/api/orders/{id}/status/",
        "/api/orders/bulk/",
        "/api/payments/",
        "/api/products/",
        "/api/product-categories/",
        "/api/price-lists/{id}/prices/",
    ):
        assert path in paths, path
    body = paths["/api/orders/bulk/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/BulkOrdersDocRequest")
