"""Commerce factories that go through the services, so test rows have history and valid totals."""

from decimal import Decimal
from typing import Any

from factory.base import Factory
from factory.declarations import Sequence

from guanxi.commerce import services
from guanxi.commerce.models import Order, PriceList, Product, ProductCategory
from guanxi.customers.tests.factories import PersonFactory, _system_admin


class CategoryFactory(Factory[ProductCategory]):
    class Meta:
        model = ProductCategory

    name = Sequence(lambda n: f"Category {n}")

    @classmethod
    def _create(cls, model_class: type[ProductCategory], *args: Any, **kwargs: Any) -> ProductCategory:
        actor = kwargs.pop("actor", None) or _system_admin()
        return services.create_category(actor, kwargs)


class ProductFactory(Factory[Product]):
    class Meta:
        model = Product

    sku = Sequence(lambda n: f"SKU-{n:04d}")
    name = Sequence(lambda n: f"Product {n}")
    unit_price = Decimal("100.00")

    @classmethod
    def _create(cls, model_class: type[Product], *args: Any, **kwargs: Any) -> Product:
        actor = kwargs.pop("actor", None) or _system_admin()
        return services.create_product(actor, kwargs)


class PriceListFactory(Factory[PriceList]):
    class Meta:
        model = PriceList

    name = Sequence(lambda n: f"Price list {n}")
    currency = "CNY"

    @classmethod
    def _create(cls, model_class: type[PriceList], *args: Any, **kwargs: Any) -> PriceList:
        actor = kwargs.pop("actor", None) or _system_admin()
        prices = kwargs.pop("prices", {})
        price_list = services.create_price_list(actor, kwargs)
        for product, price in prices.items():
            services.set_price(actor, price_list, product, price)
        return price_list


class OrderFactory(Factory[Order]):
    """An order for one product line; pass `buyer_person`/`buyer_account`, `lines` or `actor` to vary it."""

    class Meta:
        model = Order

    @classmethod
    def _create(cls, model_class: type[Order], *args: Any, **kwargs: Any) -> Order:
        actor = kwargs.pop("actor", None) or _system_admin()
        if "buyer_person" not in kwargs and "buyer_account" not in kwargs:
            kwargs["buyer_person"] = PersonFactory.create(actor=actor)
        if "lines" not in kwargs:
            kwargs["lines"] = [{"product": ProductFactory.create(), "quantity": Decimal(1)}]
        return services.create_order(actor, **kwargs)
