"""Commerce pages: lists with pinned query counts, the order form, status and payment actions, panels."""

import datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from pytest_django import DjangoAssertNumQueries

from guanxi.commerce.models import Order, Payment, Product
from guanxi.commerce.tests.factories import OrderFactory, PriceListFactory, ProductFactory
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

D = Decimal


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def test_pages_need_sign_in(client: Client) -> None:
    for name in ("commerce:order-list", "commerce:product-list", "commerce:price-list-list", "commerce:order-create"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert "/login" in response["Location"]


def test_order_list_shows_visible_orders_with_totals(client: Client, rep: User, outside_rep: User) -> None:
    mine = OrderFactory.create(
        actor=rep, buyer_person=PersonFactory.create(actor=rep, family_name="<i>", given_name="x")
    )
    theirs = OrderFactory.create(actor=outside_rep, buyer_person=PersonFactory.create(actor=outside_rep))
    html = signed_in(client, rep).get(reverse("commerce:order-list")).content.decode()
    assert mine.number in html
    assert theirs.number not in html
    assert escape("<i>") in html
    assert "<i>" not in html.split('id="results"')[1]
    assert "100.00" in html  # revenue total of the one visible order


def test_order_list_query_count_is_pinned(
    client: Client, rep: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    signed_in(client, rep)
    for _ in range(3):
        OrderFactory.create(actor=rep, buyer_person=PersonFactory.create(actor=rep))
    url = reverse("commerce:order-list")
    # session, user, page, count, totals, monthly revenue
    with django_assert_num_queries(6):
        assert client.get(url).status_code == 200
    for _ in range(5):
        OrderFactory.create(actor=rep, buyer_account=AccountFactory.create(actor=rep))
    with django_assert_num_queries(6):
        assert client.get(url + "?status=confirmed&ordering=-total_amount").status_code == 200


def test_order_list_search_and_empty_state(client: Client, admin_user: User) -> None:
    signed_in(client, admin_user)
    url = reverse("commerce:order-list")
    assert "No orders yet" in client.get(url).content.decode()
    order = OrderFactory.create(buyer_person=PersonFactory.create(family_name="诸葛", given_name="明亮"))
    OrderFactory.create(buyer_person=PersonFactory.create(family_name="Smith", given_name="Anna"))
    html = client.get(url, {"q": "葛亮"}).content.decode()
    assert order.number in html
    assert "Smith" not in html
    assert "No orders match these filters." in client.get(url, {"status": "returned"}).content.decode()


def test_product_list_query_count_and_filters(
    client: Client, rep: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    signed_in(client, rep)
    for n in range(4):
        ProductFactory.create(name=f"Tea {n}")
    ProductFactory.create(name="Kettle", sku="KET-9")
    url = reverse("commerce:product-list")
    # session, user, page, count, categories for the filter
    with django_assert_num_queries(5):
        html = client.get(url, {"q": "ket"}).content.decode()
    assert "KET-9" in html
    assert "Tea 0" not in html
    assert "New product" not in html  # a rep reads the catalogue only


def test_rep_may_not_open_product_form_manager_may_save(client: Client, rep: User, manager: User) -> None:
    assert signed_in(client, rep).get(reverse("commerce:product-create")).status_code == 403
    client.force_login(manager)
    response = client.post(
        reverse("commerce:product-create"),
        {"sku": "MUG-1", "name": "Mug", "unit_price": "29.90", "currency": "CNY", "is_active": "on"},
    )
    assert response.status_code == 302
    product = Product.objects.get(sku="MUG-1")
    response = client.post(
        reverse("commerce:product-edit", args=[product.pk]),
        {"sku": "MUG-1", "name": "Mug", "unit_price": "-1", "currency": "CNY"},
    )
    assert response.status_code == 400


def test_price_list_page_and_set_price(client: Client, manager: User) -> None:
    product = ProductFactory.create(name="Kettle")
    price_list = PriceListFactory.create(name="Retail", currency="CNY")
    signed_in(client, manager)
    response = client.post(
        reverse("commerce:price-set", args=[price_list.pk]), {"product": product.pk, "unit_price": "66.00"}
    )
    assert response.status_code == 302
    html = client.get(reverse("commerce:price-list-detail", args=[price_list.pk])).content.decode()
    assert "66.00 CNY" in html


def test_create_order_from_the_form(client: Client, rep: User) -> None:
    parent = PersonFactory.create(actor=rep, family_name="李", given_name="娜")
    child = PersonFactory.create(actor=rep, family_name="李", given_name="小龙")
    product = ProductFactory.create(unit_price=D("50"))
    signed_in(client, rep)
    form_page = client.get(reverse("commerce:order-create"), {"buyer_person": parent.pk}).content.decode()
    assert f'value="{parent.pk} · 李娜"' in form_page
    data = {
        "buyer_person": f"{parent.pk} · 李娜",
        "buyer_account": "",
        "channel": "direct",
        "status": "confirmed",
        "currency": "CNY",
        "discount_amount": "0",
        "tax_amount": "0",
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "200",
        "lines-0-product": str(product.pk),
        "lines-0-quantity": "2",
        "lines-0-user_person": f"{child.pk} · 李小龙",
        "lines-1-product": "",
        "lines-1-quantity": "",
    }
    response = client.post(reverse("commerce:order-create"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    order = Order.objects.get()
    assert (order.buyer_person, order.total_amount) == (parent, D("100.00"))
    assert order.lines.get().user_person == child
    html = client.get(response["Location"]).content.decode()
    assert "李小龙" in html
    assert "Mark as Fulfilled" in html


def test_order_form_puts_line_errors_on_the_line(client: Client, rep: User) -> None:
    buyer = PersonFactory.create(actor=rep)
    signed_in(client, rep)
    data = {
        "buyer_person": str(buyer.pk),
        "channel": "direct",
        "status": "confirmed",
        "currency": "CNY",
        "discount_amount": "0",
        "tax_amount": "0",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-description": "Consulting",
        "lines-0-quantity": "1",
    }
    response = client.post(reverse("commerce:order-create"), data)
    assert response.status_code == 400
    assert response.context["formset"].forms[0].errors == {
        "unit_price": ["Enter a unit price for a line without a product."]
    }
    data["add_line"] = "1"
    response = client.post(reverse("commerce:order-create"), data)
    assert len(response.context["formset"].forms) == 2
    assert Order.objects.count() == 0


def test_status_and_payment_actions(client: Client, rep: User, outside_rep: User) -> None:
    order = OrderFactory.create(actor=rep, buyer_person=PersonFactory.create(actor=rep))
    signed_in(client, outside_rep)
    assert client.post(reverse("commerce:order-status", args=[order.pk]), {"status": "cancelled"}).status_code == 404
    client.force_login(rep)
    client.post(reverse("commerce:order-payment", args=[order.pk]), {"amount": "40", "method": "cash"})
    client.post(reverse("commerce:order-status", args=[order.pk]), {"status": "fulfilled"})
    order.refresh_from_db()
    assert (order.status, order.paid_amount) == ("fulfilled", D("40.00"))
    assert Payment.objects.get().created_by == rep


def test_analyst_sees_orders_but_no_actions(client: Client, rep: User) -> None:
    order = OrderFactory.create(actor=rep, buyer_person=PersonFactory.create(actor=rep))
    analyst = UserFactory.create(role=StaffRole.ANALYST)
    html = signed_in(client, analyst).get(reverse("commerce:order-detail", args=[order.pk])).content.decode()
    assert order.number in html
    assert "Mark as" not in html
    assert "Record a payment" not in html
    assert client.get(reverse("commerce:order-create")).status_code == 403


def test_person_panel_separates_bought_and_used(client: Client, rep: User, other_rep: User) -> None:
    parent = PersonFactory.create(actor=rep, family_name="张", given_name="伟")
    child = PersonFactory.create(actor=rep, family_name="张", given_name="小伟")
    product = ProductFactory.create(name="Violin lessons")
    at = datetime.datetime(2026, 3, 1, 9, tzinfo=datetime.UTC)
    OrderFactory.create(
        actor=rep, buyer_person=parent, ordered_at=at, lines=[{"product": product, "user_person": child}]
    )
    signed_in(client, rep)
    parent_html = client.get(reverse("customers:person-detail", args=[parent.pk])).content.decode()
    assert "Bought" in parent_html
    assert "2026-03-01" in parent_html
    assert "Uses nothing bought by someone else." in parent_html
    child_html = client.get(reverse("customers:person-detail", args=[child.pk])).content.decode()
    assert "No orders bought yet." in child_html
    assert "Violin lessons" in child_html
    assert f"?user_person={child.pk}" in child_html


def test_account_panel_totals(client: Client, rep: User) -> None:
    account = AccountFactory.create(actor=rep, name="Acme")
    OrderFactory.create(actor=rep, buyer_account=account)
    OrderFactory.create(actor=rep, buyer_account=account, status="pending")
    html = signed_in(client, rep).get(reverse("customers:account-detail", args=[account.pk])).content.decode()
    assert 'id="orders"' in html
    assert f"?buyer_account={account.pk}" in html
    assert "<strong>2</strong>" in html
    assert "<strong>100.00</strong>" in html  # the pending order is not revenue


def test_revenue_chart_has_a_bar_per_month(client: Client, admin_user: User) -> None:
    from guanxi.commerce.charts import monthly_revenue

    today = datetime.date(2026, 6, 15)
    buyer = PersonFactory.create()
    OrderFactory.create(buyer_person=buyer, ordered_at=datetime.datetime(2026, 6, 2, tzinfo=datetime.UTC))
    OrderFactory.create(buyer_person=buyer, ordered_at=datetime.datetime(2026, 4, 20, tzinfo=datetime.UTC))
    OrderFactory.create(buyer_person=buyer, ordered_at=datetime.datetime(2026, 4, 21, tzinfo=datetime.UTC))
    OrderFactory.create(
        buyer_person=buyer, ordered_at=datetime.datetime(2026, 5, 1, tzinfo=datetime.UTC), status="cancelled"
    )
    OrderFactory.create(buyer_person=buyer, ordered_at=datetime.datetime(2025, 6, 30, tzinfo=datetime.UTC))
    chart = monthly_revenue(Order.objects.all(), months=3, today=today)
    assert [(bar.label, bar.value) for bar in chart.bars] == [
        ("26-04", D("200.00")),
        ("26-05", D("0.00")),
        ("26-06", D("100.00")),
    ]
    assert [bar.height for bar in chart.bars] == [chart.baseline, 0, chart.baseline // 2]


def test_quantities_read_plainly_on_the_order_page(client: Client, admin_user: User) -> None:
    order = OrderFactory.create(
        buyer_person=PersonFactory.create(),
        lines=[
            {"product": ProductFactory.create(name="Boxes"), "quantity": D("20")},
            {"product": ProductFactory.create(name="Tea"), "quantity": D("1.250")},
        ],
    )
    html = signed_in(client, admin_user).get(reverse("commerce:order-detail", args=[order.pk])).content.decode()
    assert ">20<" in html
    assert ">1.25<" in html
    assert "E+" not in html


def test_category_create_and_price_remove(client: Client, manager: User) -> None:
    signed_in(client, manager)
    response = client.post(reverse("commerce:category-create"), {"name": "茶叶"})
    assert response.status_code == 302
    product = ProductFactory.create(category=None)
    price_list = PriceListFactory.create(prices={product: D("9")})
    item = price_list.items.get()
    response = client.post(reverse("commerce:price-remove", args=[item.pk]))
    assert response.status_code == 302
    assert not price_list.items.exists()
