"""REST endpoints of the commerce app; `register` adds them to /api/.

Split like `customers/api/`: `serializers` (shapes in and out), `catalogue` (products,
categories, price lists) and `orders` (orders, the shop feed, payments).
"""

from rest_framework.routers import DefaultRouter

from guanxi.commerce.api.catalogue import PriceListViewSet, ProductCategoryViewSet, ProductViewSet
from guanxi.commerce.api.orders import OrderViewSet, PaymentViewSet


def register(router: DefaultRouter) -> None:
    router.register("products", ProductViewSet, basename="product")
    router.register("product-categories", ProductCategoryViewSet, basename="product-category")
    router.register("price-lists", PriceListViewSet, basename="price-list")
    router.register("orders", OrderViewSet, basename="order")
    router.register("payments", PaymentViewSet, basename="payment")
