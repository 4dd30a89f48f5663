"""The shop feed's endpoint with payments: stored once, refused ones reported by field, documented."""

from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from guanxi.commerce.models import Order, Payment
from guanxi.commerce.tests.factories import ProductFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db

D = Decimal


def client_for(user: User) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_bulk_endpoint_takes_payments_once(admin_user: User) -> None:
    ProductFactory.create(sku="TEA-1", unit_price=D("45"))
    line = [{"sku": "TEA-1", "quantity": 2}]
    feed = {
        "orders": [
            {
                "external_id": "s-1",
                "buyer_email": "a@example.com",
                "lines": line,
                "payments": [{"amount": 89.5, "method": "alipay", "reference": "ALI-1"}],
            },
            {"external_id": "s-2", "buyer_email": "b@example.com", "lines": line, "payments": [{"amount": "90.01"}]},
        ]
    }
    client = client_for(admin_user)
    first = client.post("/api/orders/bulk/", feed, format="json")
    assert first.status_code == 200
    assert [row["external_id"] for row in first.json()["created"]] == ["s-1"]
    assert first.json()["errors"] == [
        {"index": 1, "external_id": "s-2", "field": "payments[0].amount", "reason": "Only 90.00 CNY is outstanding."}
    ]
    second = client.post("/api/orders/bulk/", feed, format="json").json()
    assert [row["external_id"] for row in second["existing"]] == ["s-1"]
    assert list(Order.objects.values_list("external_id", "paid_amount")) == [("s-1", D("89.50"))]
    assert list(Payment.objects.values_list("amount", "method", "reference")) == [(D("89.50"), "alipay", "ALI-1")]


def test_schema_documents_feed_payments(admin_user: User) -> None:
    schema = client_for(admin_user).get("/api/openapi.json?format=json").json()
    components = schema["components"]["schemas"]
    payments = components["FeedOrderRequest"]["properties"]["payments"]
    assert payments["type"] == "array"
    assert payments["items"]["$ref"].endswith("/FeedPaymentRequest")
    assert set(components["FeedPaymentRequest"]["properties"]) == {"amount", "method", "paid_at", "reference"}
    assert components["FeedPaymentRequest"]["required"] == ["amount"]
