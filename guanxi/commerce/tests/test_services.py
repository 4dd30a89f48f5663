import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from guanxi.commerce import services
from guanxi.commerce.models import Order, OrderLine, Payment, PriceListItem
from guanxi.commerce.tests.factories import OrderFactory, PriceListFactory, ProductFactory
from guanxi.core.history import history_for
from guanxi.core.models import ChangeRecord
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

D = Decimal


def test_order_totals_numbers_and_history(rep: User) -> None:
    buyer = PersonFactory.create(actor=rep, family_name="王", given_name="芳")
    child = PersonFactory.create(actor=rep, family_name="王", given_name="小明")
    pen = ProductFactory.create(name="Pen", unit_price=D("12.50"))
    book = ProductFactory.create(name="Book", unit_price=D("80"))
    order = services.create_order(
        rep,
        buyer_person=buyer,
        lines=[
            {"product": pen, "quantity": D("3")},
            {
                "product": book,
                "quantity": D("1"),
                "unit_price": D("70"),
                "discount_amount": D("5"),
                "user_person": child,
            },
            {"product": None, "description": "Gift wrap", "unit_price": D("2.25")},
        ],
        discount_amount=D("10"),
        tax_amount=D("6.30"),
    )
    assert order.number == "SO-000001"
    assert order.subtotal_amount == D("37.50") + D("65.00") + D("2.25")
    assert order.total_amount == D("104.75") - D("10") + D("6.30")
    lines = list(order.lines.all())
    assert [(line.position, line.description, line.line_total, line.user_person) for line in lines] == [
        (1, "Pen", D("37.50"), None),
        (2, "Book", D("65.00"), child),
        (3, "Gift wrap", D("2.25"), None),
    ]
    (entry,) = history_for(order)
    assert entry.action == "create"
    assert entry.actor == rep
    assert entry.changes["number"] == [None, "SO-000001"]
    assert entry.changes["lines"][1][1] == f"Book × 1 @ 70.00 → #{child.pk}"
    assert services.create_order(rep, buyer_person=buyer, lines=[{"product": pen}]).number == "SO-000002"


def test_buying_counts_as_a_won_deal_for_the_reclaim_rule(rep: User) -> None:
    buyer = PersonFactory.create(actor=rep)
    at = datetime.datetime(2026, 3, 1, 10, tzinfo=datetime.UTC)
    OrderFactory.create(actor=rep, buyer_person=buyer, ordered_at=at)
    buyer.refresh_from_db()
    assert buyer.last_won_at == at
    OrderFactory.create(actor=rep, buyer_person=buyer, ordered_at=at, status="pending")
    OrderFactory.create(actor=rep, buyer_person=buyer, ordered_at=at - datetime.timedelta(days=30))
    buyer.refresh_from_db()
    assert buyer.last_won_at == at


def test_price_comes_from_the_price_list_then_the_product(admin_user: User) -> None:
    buyer = PersonFactory.create()
    listed = ProductFactory.create(unit_price=D("100"))
    unlisted = ProductFactory.create(unit_price=D("40"))
    retail = PriceListFactory.create(name="Retail", currency="CNY", prices={listed: D("90")})
    assert services.price_for(listed, retail) == D("90")
    assert services.price_for(unlisted, retail) == D("40")
    assert services.price_for(listed, None) == D("100")
    order = services.create_order(
        admin_user, buyer_person=buyer, price_list=retail, lines=[{"product": listed}, {"product": unlisted}]
    )
    assert [line.unit_price for line in order.lines.all()] == [D("90"), D("40")]


def test_a_customers_assigned_price_list_prices_their_orders(admin_user: User) -> None:
    buyer = PersonFactory.create()
    product = ProductFactory.create(unit_price=D("100"))
    wholesale = PriceListFactory.create(name="Wholesale", currency="CNY", prices={product: D("70")})
    dollars = PriceListFactory.create(name="Dollars", currency="USD", is_default=True, prices={product: D("12")})
    services.assign_price_list(admin_user, buyer, wholesale)
    order = services.create_order(admin_user, buyer_person=buyer, lines=[{"product": product}])
    assert (order.price_list, order.total_amount) == (wholesale, D("70"))
    in_dollars = services.create_order(admin_user, buyer_person=buyer, currency="USD", lines=[{"product": product}])
    assert (in_dollars.price_list, in_dollars.total_amount) == (dollars, D("12"))  # not the CNY list


def test_default_price_list_of_the_currency_applies_when_none_given(admin_user: User) -> None:
    buyer = PersonFactory.create()
    product = ProductFactory.create(unit_price=D("100"))
    usd = PriceListFactory.create(name="USD", currency="USD", is_default=True, prices={product: D("15")})
    order = services.create_order(admin_user, buyer_person=buyer, currency="usd", lines=[{"product": product}])
    assert (order.currency, order.price_list, order.total_amount) == ("USD", usd, D("15"))
    other = ProductFactory.create(unit_price=D("100"))
    with pytest.raises(ValidationError) as caught:
        services.create_order(admin_user, buyer_person=buyer, currency="USD", lines=[{"product": other}])
    assert set(caught.value.message_dict) == {"lines[0].unit_price"}


def test_invalid_order_names_every_field_and_writes_nothing(admin_user: User) -> None:
    buyer = PersonFactory.create()
    product = ProductFactory.create()
    eur = PriceListFactory.create(currency="EUR")
    with pytest.raises(ValidationError) as caught:
        services.create_order(
            admin_user,
            buyer_person=buyer,
            price_list=eur,
            channel="fax",
            lines=[
                {"product": product, "quantity": D("1")},
                {"product": product, "quantity": D("0")},
                {"product": None, "unit_price": D("-1")},
                {"product": product, "quantity": "1.2345"},
                {"product": product, "discount_amount": D("500")},
            ],
        )
    assert caught.value.message_dict == {
        "currency": [f"The price list {eur.name} is in EUR, not CNY."],
        "channel": ["Unknown channel: fax"],
        "lines[1].quantity": ["Enter a number greater than zero."],
        "lines[2].unit_price": ["Enter zero or more."],
        "lines[2].description": ["Describe a line without a product."],
        "lines[3].quantity": ["Use at most 3 decimal places."],
        "lines[4].discount_amount": ["The discount is larger than the line amount."],
    }
    assert Order.objects.count() == 0
    assert OrderLine.objects.count() == 0
    assert not ChangeRecord.objects.filter(content_type__model="order").exists()


def test_buyer_is_required_and_must_be_visible(rep: User, other_rep: User) -> None:
    product = ProductFactory.create()
    with pytest.raises(ValidationError) as caught:
        services.create_order(rep, lines=[{"product": product}])
    assert set(caught.value.message_dict) == {"buyer"}
    theirs = PersonFactory.create(actor=other_rep)
    their_account = AccountFactory.create(actor=other_rep)
    with pytest.raises(ValidationError) as caught:
        services.create_order(
            rep, buyer_person=theirs, buyer_account=their_account, lines=[{"product": product, "user_person": theirs}]
        )
    assert set(caught.value.message_dict) == {"buyer_person", "buyer_account", "lines[0].user_person"}
    pool = PersonFactory.create()  # made by an admin: nobody owns it
    assert services.create_order(rep, buyer_person=pool, lines=[{"product": product}]).buyer_person == pool


def test_user_line_need_not_name_a_user(rep: User) -> None:
    order = OrderFactory.create(actor=rep)
    assert order.lines.get().user_person is None


@pytest.mark.parametrize("role", [StaffRole.MARKETER, StaffRole.ANALYST])
def test_read_only_roles_may_not_take_orders(role: str) -> None:
    user = UserFactory.create(role=role)
    with pytest.raises(PermissionDenied):
        services.create_order(user, buyer_person=PersonFactory.create(), lines=[{"product": ProductFactory.create()}])


def test_number_and_external_id_are_unique(admin_user: User) -> None:
    buyer = PersonFactory.create()
    product = ProductFactory.create()
    services.create_order(
        admin_user, buyer_person=buyer, number="SO-000002", external_id="shop-1", lines=[{"product": product}]
    )
    with pytest.raises(ValidationError) as caught:
        services.create_order(
            admin_user, buyer_person=buyer, number="SO-000002", external_id="shop-1", lines=[{"product": product}]
        )
    assert set(caught.value.message_dict) == {"number", "external_id"}
    # Automatic numbers step over a number typed by hand in the same pattern.
    numbers = [
        services.create_order(admin_user, buyer_person=buyer, lines=[{"product": product}]).number for _ in range(2)
    ]
    assert numbers == ["SO-000001", "SO-000003"]


def test_status_transitions(rep: User) -> None:
    order = OrderFactory.create(actor=rep, status="pending")
    services.set_order_status(rep, order, "confirmed")
    services.set_order_status(rep, order, "fulfilled")
    with pytest.raises(ValidationError) as caught:
        services.set_order_status(rep, order, "cancelled")
    assert caught.value.message_dict == {"status": ["An order that is Fulfilled cannot become Cancelled."]}
    services.set_order_status(rep, order, "returned")
    order.refresh_from_db()
    assert order.status == "returned"
    assert [entry.changes for entry in history_for(order)][:3] == [
        {"status": ["fulfilled", "returned"]},
        {"status": ["confirmed", "fulfilled"]},
        {"status": ["pending", "confirmed"]},
    ]


def test_status_change_needs_visibility(rep: User, outside_rep: User) -> None:
    order = OrderFactory.create(actor=rep)
    with pytest.raises(PermissionDenied):
        services.set_order_status(outside_rep, order, "cancelled")


def test_payments_add_up_and_refuse_overpayment(rep: User) -> None:
    order = OrderFactory.create(actor=rep)  # one line at 100.00
    paid_at = datetime.datetime(2026, 5, 1, 9, tzinfo=datetime.UTC)
    services.record_payment(rep, order, D("30"), paid_at, "alipay", "A-1")
    services.record_payment(rep, order, "20.50", paid_at, "cash", "")
    order.refresh_from_db()
    assert order.paid_amount == D("50.50")
    with pytest.raises(ValidationError) as caught:
        services.record_payment(rep, order, D("49.51"), paid_at, "cash", "")
    assert caught.value.message_dict == {"amount": ["Only 49.50 CNY is outstanding."]}
    with pytest.raises(ValidationError) as caught:
        services.record_payment(rep, order, D("0"), paid_at, "barter", "")
    assert set(caught.value.message_dict) == {"amount", "method"}
    assert list(Payment.objects.order_by("id").values_list("amount", "method", "reference")) == [
        (D("30.00"), "alipay", "A-1"),
        (D("20.50"), "cash", ""),
    ]
    assert history_for(order).first().changes == {"paid_amount": ["30.00", "50.50"]}  # type: ignore[union-attr]  # first() exists here


def test_cancelled_order_takes_no_payment(rep: User) -> None:
    order = OrderFactory.create(actor=rep)
    services.set_order_status(rep, order, "cancelled")
    with pytest.raises(ValidationError) as caught:
        services.record_payment(rep, order, D("1"), None, "cash", "")
    assert set(caught.value.message_dict) == {"order"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_both_count() -> None:
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the row lock is what PostgreSQL needs")
    admin = UserFactory.create(role=StaffRole.ADMIN)
    order = OrderFactory.create(actor=admin, lines=[{"product": ProductFactory.create(), "quantity": D(10)}])
    barrier = threading.Barrier(4)

    def pay() -> None:
        barrier.wait()
        try:
            services.record_payment(admin, order, D("10"), None, "cash", "")
        finally:
            connection.close()

    threads = [threading.Thread(target=pay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    order.refresh_from_db()
    assert order.paid_amount == D("40.00")
    assert Payment.objects.filter(order=order).count() == 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_get_distinct_numbers() -> None:
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers")
    admin = UserFactory.create(role=StaffRole.ADMIN)
    buyer = PersonFactory.create(actor=admin)
    product = ProductFactory.create()
    services.create_order(admin, buyer_person=buyer, lines=[{"product": product}])
    barrier = threading.Barrier(4)

    def take() -> None:
        barrier.wait()
        try:
            services.create_order(admin, buyer_person=buyer, lines=[{"product": product}])
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(Order.objects.values_list("number", flat=True)) == [f"SO-00000{n}" for n in range(1, 6)]


def test_catalogue_is_for_admins_and_managers(rep: User, manager: User) -> None:
    with pytest.raises(PermissionDenied):
        services.create_product(rep, {"sku": "X", "name": "X", "unit_price": D(1)})
    product = services.create_product(
        manager, {"sku": " X-1 ", "name": "Kettle", "unit_price": "199.00", "currency": "cny"}
    )
    assert (product.sku, product.currency) == ("X-1", "CNY")
    with pytest.raises(ValidationError) as caught:
        services.create_product(manager, {"sku": "X-1", "name": "Again", "unit_price": D(1)})
    assert set(caught.value.message_dict) == {"sku"}
    services.update_product(manager, product, {"unit_price": D("189")})
    assert history_for(product).first().changes == {"unit_price": ["199.00", "189.00"]}  # type: ignore[union-attr]  # an entry exists


def test_one_default_price_list_per_currency_and_price_history(manager: User) -> None:
    first = services.create_price_list(manager, {"name": "A", "currency": "CNY", "is_default": True})
    second = services.create_price_list(manager, {"name": "B", "currency": "CNY", "is_default": True})
    first.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)
    product = ProductFactory.create()
    services.set_price(manager, second, product, "88")
    services.set_price(manager, second, product, "77")
    assert PriceListItem.objects.get().unit_price == D("77")
    assert history_for(second).first().changes == {f"prices.{product.sku}": ["88.00", "77.00"]}  # type: ignore[union-attr]  # an entry exists
