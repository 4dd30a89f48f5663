"""The online shop's feed: idempotent, per-order errors, buyers found or created, batched queries."""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.commerce import services
from guanxi.commerce.models import Order, OrderLine, Payment
from guanxi.commerce.tests.factories import ProductFactory
from guanxi.core.history import history_for
from guanxi.customers.models import Person, Source
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

D = Decimal


def _order(external_id: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "external_id": external_id,
        "ordered_at": "2026-05-01T10:30:00+08:00",
        "lines": [{"sku": "TEA-1", "quantity": "2"}],
    }
    data.update(extra)
    return data


@pytest.fixture
def tea() -> None:
    ProductFactory.create(sku="TEA-1", name="Oolong", unit_price=D("45.00"))


@pytest.mark.usefixtures("tea")
def test_feed_sent_twice_stores_each_order_once(admin_user: User) -> None:
    buyer = PersonFactory.create(emails=["li@example.com"])
    feed = [_order("shop-1", buyer_email="LI@example.com"), _order("shop-2", buyer_person_id=buyer.pk)]
    first = services.bulk_create_orders(admin_user, feed)
    assert [(row["index"], row["external_id"]) for row in first.created] == [(0, "shop-1"), (1, "shop-2")]
    assert first.existing == []
    assert first.errors == []
    second = services.bulk_create_orders(admin_user, feed)
    assert second.created == []
    assert [(row["index"], row["id"], row["number"]) for row in second.existing] == [
        (row["index"], row["id"], row["number"]) for row in first.created
    ]
    assert Order.objects.count() == 2
    order = Order.objects.get(external_id="shop-1")
    assert (order.buyer_person, order.channel, order.total_amount) == (buyer, "online_shop", D("90.00"))
    assert order.ordered_at == datetime.datetime(2026, 5, 1, 2, 30, tzinfo=datetime.UTC)
    assert history_for(order).get().action == "create"


@pytest.mark.usefixtures("tea")
def test_bad_orders_are_reported_by_index_and_field_and_good_ones_kept(admin_user: User) -> None:
    account = AccountFactory.create()
    feed: list[Any] = [
        _order("ok-1", buyer_account_id=account.pk),
        _order("bad-sku", buyer_account_id=account.pk, lines=[{"sku": "NOPE", "quantity": 1}]),
        _order("bad-qty", buyer_account_id=account.pk, lines=[{"sku": "TEA-1", "quantity": "0"}]),
        {"buyer_account_id": account.pk, "lines": [{"sku": "TEA-1"}], "colour": "red"},
        _order("ok-1", buyer_account_id=account.pk),
        _order("no-buyer"),
        "not an object",
        _order("ok-2", buyer_account_id=account.pk, buyer_email="broken"),
    ]
    result = services.bulk_create_orders(admin_user, feed)
    assert [row["external_id"] for row in result.created] == ["ok-1"]
    assert [(row["index"], row["field"]) for row in result.errors] == [
        (1, "lines[0].sku"),
        (2, "lines[0].quantity"),
        (3, "colour"),
        (3, "external_id"),
        (4, "external_id"),
        (5, "buyer"),
        (6, ""),
        (7, "buyer_email"),
    ]
    assert result.errors[0]["reason"] == "No product with SKU NOPE."
    assert Order.objects.count() == 1
    assert OrderLine.objects.count() == 1


@pytest.mark.usefixtures("tea")
def test_unknown_buyer_is_created_once_as_an_api_person(rep: User) -> None:
    feed = [
        _order(
            "n-1",
            buyer_email="new@example.com",
            buyer_phone="13812345678",
            buyer_family_name="赵",
            buyer_given_name="敏",
        ),
        _order("n-2", buyer_email="new@example.com"),
        _order("n-3", buyer_phone="+86 138 1234 5678"),
    ]
    result = services.bulk_create_orders(rep, feed)
    assert [row["index"] for row in result.created] == [0, 1, 2]
    person = Person.objects.get()
    assert (person.full_name, person.source, person.owner) == ("赵敏", Source.API, rep)
    assert set(Order.objects.values_list("buyer_person", flat=True)) == {person.pk}


@pytest.mark.usefixtures("tea")
def test_order_with_new_buyer_that_fails_leaves_no_person(admin_user: User) -> None:
    result = services.bulk_create_orders(
        admin_user, [_order("x", buyer_email="ghost@example.com", lines=[{"sku": "NOPE"}])]
    )
    assert [row["field"] for row in result.errors] == ["lines[0].sku"]
    assert Person.objects.count() == 0


@pytest.mark.usefixtures("tea")
def test_line_user_is_found_by_email_and_kept_apart_from_the_buyer(admin_user: User) -> None:
    parent = PersonFactory.create(emails=["mum@example.com"])
    child = PersonFactory.create(emails=["kid@example.com"])
    services.bulk_create_orders(
        admin_user,
        [_order("f-1", buyer_email="mum@example.com", lines=[{"sku": "TEA-1", "user_email": "kid@example.com"}])],
    )
    line = OrderLine.objects.get()
    assert (line.order.buyer_person, line.user_person) == (parent, child)


@pytest.mark.usefixtures("tea")
def test_buyer_the_actor_may_not_see_is_refused(rep: User, outside_rep: User) -> None:
    theirs = PersonFactory.create(actor=outside_rep, emails=["theirs@example.com"])
    result = services.bulk_create_orders(rep, [_order("v-1", buyer_email="theirs@example.com")])
    assert [row["field"] for row in result.errors] == ["buyer_person"]
    assert not Order.objects.filter(buyer_person=theirs).exists()


def test_analyst_may_not_send_a_feed() -> None:
    with pytest.raises(PermissionDenied):
        services.bulk_create_orders(UserFactory.create(role=StaffRole.ANALYST), [])


def test_feed_queries_do_not_grow_with_the_number_of_orders(admin_user: User) -> None:
    products = [ProductFactory.create(sku=f"P-{n}") for n in range(5)]
    people = [PersonFactory.create(emails=[f"p{n}@example.com"]) for n in range(30)]
    AccountFactory.create()

    def feed(prefix: str, count: int) -> list[dict[str, Any]]:
        return [
            _order(
                f"{prefix}-{n}",
                buyer_email=f"p{n % 30}@example.com",
                ordered_at=f"2026-04-{1 + n % 5:02d}T09:00:00Z",
                lines=[{"sku": products[(n + k) % 5].sku, "quantity": 1 + k} for k in range(3)],
            )
            for n in range(count)
        ]

    services.bulk_create_orders(admin_user, feed("warm-up", 1))  # creates the number counter row once
    with CaptureQueriesContext(connection) as small:
        assert len(services.bulk_create_orders(admin_user, feed("a", 5)).created) == 5
    with CaptureQueriesContext(connection) as large:
        assert len(services.bulk_create_orders(admin_user, feed("b", 60)).created) == 60
    assert len(large.captured_queries) == len(small.captured_queries)
    assert len(large.captured_queries) <= 20
    assert people[0].orders.count() == 4


# -- payments carried by the feed ---------------------------------------------------------------


@pytest.mark.usefixtures("tea")
def test_payments_are_stored_with_their_orders_already_paid(admin_user: User) -> None:
    buyer = PersonFactory.create()
    feed = [
        _order(
            "paid-1",
            buyer_person_id=buyer.pk,
            payments=[
                {"amount": "50.00", "method": "alipay", "paid_at": "2026-05-01T11:00:00+08:00", "reference": "A-1"},
                {"amount": 40},  # the rest; method "other", paid now
            ],
        ),
        _order("unpaid-1", buyer_person_id=buyer.pk),
    ]
    with CaptureQueriesContext(connection) as queries:
        result = services.bulk_create_orders(admin_user, feed, note="import 7")
    assert [row["external_id"] for row in result.created] == ["paid-1", "unpaid-1"]
    assert result.errors == []
    assert sum("commerce_payment" in q["sql"] and q["sql"].startswith("INSERT") for q in queries) == 1
    paid = Order.objects.get(external_id="paid-1")
    assert (paid.total_amount, paid.paid_amount) == (D("90.00"), D("90.00"))
    assert list(paid.payments.order_by("amount").values_list("amount", "currency", "method", "reference")) == [
        (D("40.00"), "CNY", "other", ""),
        (D("50.00"), "CNY", "alipay", "A-1"),
    ]
    first = paid.payments.get(reference="A-1")
    assert (first.paid_at, first.created_by) == (datetime.datetime(2026, 5, 1, 3, 0, tzinfo=datetime.UTC), admin_user)
    record = history_for(paid).get()
    assert (record.action, record.note, record.changes["paid_amount"]) == ("create", "import 7", [None, "90.00"])
    unpaid = Order.objects.get(external_id="unpaid-1")
    assert unpaid.paid_amount == D("0.00")
    assert "paid_amount" not in history_for(unpaid).get().changes


@pytest.mark.usefixtures("tea")
def test_a_refused_payment_rejects_its_order_with_a_keyed_error(admin_user: User) -> None:
    buyer = PersonFactory.create()
    feed = [
        _order("over", buyer_person_id=buyer.pk, payments=[{"amount": "60"}, {"amount": "30.01"}]),
        _order("cancelled", buyer_person_id=buyer.pk, status="cancelled", payments=[{"amount": "10"}]),
        _order(
            "shape",
            buyer_person_id=buyer.pk,
            payments=[{"amount": "0", "method": "barter", "tip": 1}, "cash", {"amount": "1", "paid_at": "soon"}],
        ),
        _order("not-a-list", buyer_person_id=buyer.pk, payments={"amount": "1"}),
        _order("good", buyer_person_id=buyer.pk, payments=[{"amount": "90.00", "method": "cash"}]),
    ]
    result = services.bulk_create_orders(admin_user, feed)
    assert [row["external_id"] for row in result.created] == ["good"]
    assert [(row["index"], row["field"], row["reason"]) for row in result.errors] == [
        (0, "payments[1].amount", "Only 30.00 CNY is outstanding."),
        (1, "payments", "A Cancelled order takes no payments."),
        (2, "payments[0].tip", "Unknown field."),
        (2, "payments[0].amount", "Enter a number greater than zero."),
        (2, "payments[0].method", "Unknown payment method: barter"),
        (2, "payments[1]", "Each payment must be an object."),
        (2, "payments[2].paid_at", "Enter a date and time such as 2026-05-01T10:30:00+08:00."),
        (3, "payments", "Send the order's payments as a list."),
    ]
    assert list(Order.objects.values_list("external_id", "paid_amount")) == [("good", D("90.00"))]
    assert list(Payment.objects.values_list("order__external_id", "amount")) == [("good", D("90.00"))]


@pytest.mark.usefixtures("tea")
def test_a_refused_payment_of_an_order_with_a_new_buyer_leaves_no_person(admin_user: User) -> None:
    result = services.bulk_create_orders(
        admin_user, [_order("new-buyer", buyer_email="new@example.com", payments=[{"amount": "91"}])]
    )
    assert [row["field"] for row in result.errors] == ["payments[0].amount"]
    assert not Person.objects.exists()
    assert not Order.objects.exists()
    result = services.bulk_create_orders(
        admin_user, [_order("new-buyer", buyer_email="new@example.com", payments=[{"amount": "90"}])]
    )
    assert [row["external_id"] for row in result.created] == ["new-buyer"]
    assert Order.objects.get().paid_amount == D("90.00")
    assert Payment.objects.get().amount == D("90.00")


@pytest.mark.usefixtures("tea")
def test_resending_a_paid_order_creates_no_second_payment(admin_user: User) -> None:
    buyer = PersonFactory.create()
    feed = [_order("paid-1", buyer_person_id=buyer.pk, payments=[{"amount": "45", "method": "wechat_pay"}])]
    first = services.bulk_create_orders(admin_user, feed)
    second = services.bulk_create_orders(admin_user, feed)
    assert [row["id"] for row in second.existing] == [row["id"] for row in first.created]
    assert (second.created, second.errors) == ([], [])
    assert Payment.objects.count() == 1
    assert Order.objects.get().paid_amount == D("45.00")
    assert [record.action for record in history_for(Order.objects.get())] == ["create"]
