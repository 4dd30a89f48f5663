"""Viewsets for products, product categories and price lists: everyone signed in reads the
catalogue; admins and sales managers change it, through `services`."""

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from guanxi.commerce import queries, services
from guanxi.commerce.api.serializers import (
    PriceInputSerializer,
    PriceListDetailSerializer,
    PriceListInputSerializer,
    PriceListItemSerializer,
    PriceListSerializer,
    ProductCategorySerializer,
    ProductInputSerializer,
    ProductSerializer,
)
from guanxi.commerce.models import PriceList, PriceListItem, Product, ProductCategory
from guanxi.core.api import KeysetCursorPagination
from guanxi.customers.api.common import actor_of

_WRITE_ACTIONS = frozenset({"create", "update", "partial_update", "prices"})


class _CatalogueViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Reads and writes without delete: products on past orders stay; deactivate them instead."""

    filter_backends = []
    pagination_class = KeysetCursorPagination
    lookup_value_regex = r"\d+"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.action in _WRITE_ACTIONS and not services.can_edit_catalogue(actor_of(request)):
            self.permission_denied(request, message="Only an admin or a sales manager may change the catalogue.")


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Search the name (contains) or the SKU (starts with)."),
            OpenApiParameter("category", int, description="Category id."),
            OpenApiParameter("active", str, enum=["yes", "no"], description="Only active or only inactive products."),
        ]
    ),
    create=extend_schema(request=ProductInputSerializer, responses={201: ProductSerializer}),
    update=extend_schema(request=ProductInputSerializer, responses=ProductSerializer),
    partial_update=extend_schema(request=ProductInputSerializer, responses=ProductSerializer),
)
class ProductViewSet(_CatalogueViewSet):
    ordering_fields = queries.PRODUCT_ORDERING
    default_ordering = "name"

    def get_queryset(self) -> QuerySet[Product]:
        if getattr(self, "swagger_fake_view", False):
            return Product.objects.none()
        queryset = queries.visible_products(actor_of(self.request))
        if self.action == "list":
            queryset = queries.filter_products(queryset, queries.ProductFilters.from_query(self.request.query_params))
        return queryset.select_related("category")

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return ProductInputSerializer if self.action in _WRITE_ACTIONS else ProductSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ProductInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.create_product(actor_of(request), serializer.validated_data)
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        product = self.get_object()
        serializer = ProductInputSerializer(product, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        product = services.update_product(actor_of(request), product, serializer.validated_data)
        return Response(ProductSerializer(product).data)


@extend_schema_view(
    create=extend_schema(responses={201: ProductCategorySerializer}),
)
class ProductCategoryViewSet(_CatalogueViewSet):
    serializer_class = ProductCategorySerializer
    ordering_fields = ("name",)
    default_ordering = "name"

    def get_queryset(self) -> QuerySet[ProductCategory]:
        if getattr(self, "swagger_fake_view", False):
            return ProductCategory.objects.none()
        actor_of(self.request)
        return ProductCategory.objects.all()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ProductCategorySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        category = services.create_category(actor_of(request), serializer.validated_data)
        return Response(ProductCategorySerializer(category).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        category = self.get_object()
        serializer = ProductCategorySerializer(category, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        category = services.update_category(actor_of(request), category, serializer.validated_data)
        return Response(ProductCategorySerializer(category).data)


@extend_schema_view(
    create=extend_schema(request=PriceListInputSerializer, responses={201: PriceListDetailSerializer}),
    update=extend_schema(request=PriceListInputSerializer, responses=PriceListDetailSerializer),
    partial_update=extend_schema(request=PriceListInputSerializer, responses=PriceListDetailSerializer),
)
class PriceListViewSet(_CatalogueViewSet):
    """Price lists; the detail includes every price on the list."""

    ordering_fields = ("name",)
    default_ordering = "name"

    def get_queryset(self) -> QuerySet[PriceList]:
        if getattr(self, "swagger_fake_view", False):
            return PriceList.objects.none()
        queryset = queries.visible_price_lists(actor_of(self.request))
        if self.action != "list":
            items = PriceListItem.objects.select_related("product").order_by("product__name", "id")
            queryset = queryset.prefetch_related(Prefetch("items", queryset=items))
        return queryset

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action in _WRITE_ACTIONS:
            return PriceListInputSerializer
        return PriceListSerializer if self.action == "list" else PriceListDetailSerializer

    def _render(self, price_list: PriceList, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().model.objects.prefetch_related("items__product").get(pk=price_list.pk)
        return Response(PriceListDetailSerializer(fresh).data, status=status_code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PriceListInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        price_list = services.create_price_list(actor_of(request), serializer.validated_data)
        return self._render(price_list, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        price_list = self.get_object()
        serializer = PriceListInputSerializer(price_list, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        return self._render(services.update_price_list(actor_of(request), price_list, serializer.validated_data))

    @extend_schema(request=PriceInputSerializer, responses=PriceListItemSerializer)
    @action(detail=True, methods=["post"])
    def prices(self, request: Request, pk: str) -> Response:
        """Set one product's price on this list (adds it or changes it)."""
        price_list = self.get_object()
        serializer = PriceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        item = services.set_price(actor_of(request), price_list, data["product"], data["unit_price"])
        return Response(PriceListItemSerializer(item).data)
