"""Viewsets for orders (list, detail, create, status), the shop feed and payments.

Visibility follows the buyer (`queries.order_visible_q`): an order the user may not see is a
404. Writes go through `services`, so the API and the UI number, price and record orders alike.
"""

from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from guanxi.commerce import queries, services
from guanxi.commerce.api.serializers import (
    BulkOrdersDocSerializer,
    BulkOrdersInputSerializer,
    BulkOrdersResultSerializer,
    OrderDetailSerializer,
    OrderInputSerializer,
    OrderSerializer,
    PaymentInputSerializer,
    PaymentSerializer,
    StatusInputSerializer,
)
from guanxi.commerce.models import Order, OrderChannel, OrderLine, OrderStatus, Payment
from guanxi.core.api import KeysetCursorPagination
from guanxi.customers.api.common import actor_of


def _detail_rows(queryset: QuerySet[Order]) -> QuerySet[Order]:
    lines = OrderLine.objects.select_related("product", "user_person").order_by("position", "id")
    return queryset.select_related("buyer_account", "buyer_person").prefetch_related(
        Prefetch("lines", queryset=lines), Prefetch("payments", queryset=Payment.objects.order_by("paid_at", "id"))
    )


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "q", str, description="Order number (starts with), external id, or buyer name/e-mail/phone."
            ),
            OpenApiParameter("status", str, enum=list(OrderStatus.values)),
            OpenApiParameter("channel", str, enum=list(OrderChannel.values)),
            OpenApiParameter("date_from", str, description="First order day, YYYY-MM-DD."),
            OpenApiParameter("date_to", str, description="Last order day, YYYY-MM-DD (inclusive)."),
            OpenApiParameter("buyer_person", int, description="Buyer person id."),
            OpenApiParameter("buyer_account", int, description="Buyer account id."),
            OpenApiParameter("user_person", int, description="Orders with a line this person uses (使用人)."),
        ]
    ),
    retrieve=extend_schema(responses=OrderDetailSerializer),
    create=extend_schema(request=OrderInputSerializer, responses={201: OrderDetailSerializer}),
)
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Orders with lines and payments. Orders are never edited in place: cancel, return or pay."""

    filter_backends = []
    pagination_class = KeysetCursorPagination
    lookup_value_regex = r"\d+"
    ordering_fields = queries.ORDER_ORDERING
    default_ordering = "-ordered_at"

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        user = actor_of(self.request)
        queryset = queries.visible_orders(user)
        if self.action == "list":
            filters = queries.OrderFilters.from_query(self.request.query_params)
            return queries.order_list_rows(queries.filter_orders(queryset, filters, user))
        return _detail_rows(queryset)

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return OrderSerializer if self.action == "list" else OrderDetailSerializer

    def _render(self, order: Order, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = _detail_rows(Order.objects.filter(pk=order.pk)).get()
        return Response(OrderDetailSerializer(fresh).data, status=status_code)

    def create(self, request: Request) -> Response:
        """Take an order; its number, prices (from the price list when omitted) and totals are computed."""
        serializer = OrderInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        lines = [dict(line) for line in data.pop("lines")]
        order = services.create_order(actor_of(request), lines=lines, **data)
        return self._render(order, status.HTTP_201_CREATED)

    @extend_schema(request=StatusInputSerializer, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request: Request, pk: str) -> Response:
        """Move the order to another status (pending → confirmed → fulfilled → returned; or cancelled)."""
        order = self.get_object()
        serializer = StatusInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.set_order_status(actor_of(request), order, serializer.validated_data["status"])
        return self._render(order)

    @extend_schema(request=BulkOrdersDocSerializer, responses=BulkOrdersResultSerializer)
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """An online shop's feed: up to 1,000 orders, stored once per `external_id`.

        Orders already stored are listed under `existing`; bad ones under `errors` with their
        index and field, and the good ones are kept.
        """
        serializer = BulkOrdersInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.bulk_create_orders(actor_of(request), serializer.validated_data["orders"])
        body = {"created": result.created, "existing": result.existing, "errors": result.errors}
        return Response(BulkOrdersResultSerializer(body).data)


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("order", int, description="Payments of one order.")]),
    create=extend_schema(request=PaymentInputSerializer, responses={201: PaymentSerializer}),
)
class PaymentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Payments received (回款); recorded, never edited, so the paid amount always adds up."""

    serializer_class = PaymentSerializer
    filter_backends = []
    pagination_class = KeysetCursorPagination
    lookup_value_regex = r"\d+"
    ordering_fields = ("paid_at",)
    default_ordering = "-paid_at"

    def get_queryset(self) -> QuerySet[Payment]:
        if getattr(self, "swagger_fake_view", False):
            return Payment.objects.none()
        queryset = queries.visible_payments(actor_of(self.request))
        order = self.request.query_params.get("order", "")
        if self.action == "list" and order.isdigit():
            queryset = queryset.filter(order_id=int(order))
        return queryset

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PaymentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = actor_of(request)
        order = queries.visible_orders(user).filter(Q(pk=data["order"])).first()
        if order is None:
            raise Http404
        payment = services.record_payment(
            user, order, data["amount"], data["paid_at"], data["method"], data["reference"]
        )
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)
