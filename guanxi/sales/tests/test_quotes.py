from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from guanxi.commerce.models import Order, PriceList, PriceListItem, Product
from guanxi.customers.models import Account
from guanxi.customers.tests.factories import AccountFactory
from guanxi.sales import services
from guanxi.sales.models import QuoteStatus
from guanxi.sales.tests.factories import OpportunityFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db


def test_quote_totals_with_discount_and_tax(rep: User) -> None:
    account = AccountFactory.create(owner=rep)
    product = Product.objects.create(sku="LIC", name="Licence", unit_price=Decimal("100.00"))
    price_list = PriceList.objects.create(name="Partners", currency="CNY")
    PriceListItem.objects.create(price_list=price_list, product=product, unit_price=Decimal("80.00"))
    quote = services.create_quote(
        rep,
        {"account": account, "price_list": price_list, "tax_rate": Decimal("13")},
        lines=[
            {"product": product, "quantity": Decimal("10"), "discount_percent": Decimal("5")},
            {"description": "Training", "unit_price": Decimal("500")},
        ],
    )
    assert quote.number == f"QT-{quote.pk:06d}"
    assert [(line.unit_price, line.line_total) for line in quote.lines.all()] == [
        (Decimal("80.00"), Decimal("760.00")),
        (Decimal("500.00"), Decimal("500.00")),
    ]
    quote.refresh_from_db()
    assert (quote.subtotal_amount, quote.discount_amount, quote.tax_amount, quote.total_amount) == (
        Decimal("1300.00"),
        Decimal("40.00"),
        Decimal("163.80"),
        Decimal("1423.80"),
    )


def test_quote_from_opportunity_and_accept_creates_order_and_wins(rep: User) -> None:
    opportunity = OpportunityFactory.create(
        actor=rep, lines=[{"description": "Consulting", "quantity": Decimal("2"), "unit_price": Decimal("300")}]
    )
    quote = services.create_quote_from_opportunity(rep, opportunity, {"tax_rate": Decimal("6")})
    assert (quote.account, quote.currency, quote.owner) == (opportunity.account, "CNY", rep)
    services.send_quote(rep, quote)
    with pytest.raises(ValidationError):
        services.add_quote_line(rep, quote, {"description": "Late", "unit_price": 1})
    accepted = services.accept_quote(rep, quote)
    assert accepted.status == QuoteStatus.ACCEPTED
    assert accepted.order is not None
    order = Order.objects.get(pk=accepted.order.pk)
    assert order.buyer_account == opportunity.account
    assert (order.tax_amount, order.total_amount) == (Decimal("36.00"), Decimal("636.00"))
    assert [(line.description, line.quantity, line.unit_price) for line in order.lines.all()] == [
        ("Consulting", Decimal("2.000"), Decimal("300.00"))
    ]
    opportunity.refresh_from_db()
    assert opportunity.status == "won"
    assert opportunity.account is not None
    assert Account.objects.get(pk=opportunity.account.pk).last_won_at is not None
    with pytest.raises(ValidationError):
        services.accept_quote(rep, quote)  # accepted once only
    assert Order.objects.count() == 1


def test_quote_rules(rep: User, other_rep: User) -> None:
    account = AccountFactory.create(owner=rep)
    with pytest.raises(ValidationError) as caught:
        services.create_quote(rep, {"tax_rate": Decimal("5")})
    assert set(caught.value.message_dict) == {"account"}
    quote = services.create_quote(rep, {"account": account})
    with pytest.raises(ValidationError):
        services.send_quote(rep, quote)  # no lines
    with pytest.raises(PermissionDenied):
        services.update_quote(other_rep, quote, {"note": "mine"})
    line = services.add_quote_line(rep, quote, {"description": "Box", "quantity": 3, "unit_price": Decimal("9.99")})
    quote.refresh_from_db()
    assert quote.total_amount == Decimal("29.97")
    services.remove_quote_line(rep, line)
    quote.refresh_from_db()
    assert quote.total_amount == Decimal("0")
    declined = services.decline_quote(rep, quote)
    assert declined.status == QuoteStatus.DECLINED
