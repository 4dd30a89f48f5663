"""Serializers of the commerce API: records as shown, the input a client may send, the shop feed.

Input and output are separate, as in `customers/api/serializers.py`; unknown input fields are
refused. Domain rules (prices, totals, visibility of buyers) are checked by `services`, which
names the failing field (`lines[2].quantity`) so the client sees exactly which cell is wrong.
"""

from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from guanxi.commerce.models import (
    Order,
    OrderChannel,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentMethod,
    PriceList,
    PriceListItem,
    Product,
    ProductCategory,
)
from guanxi.core.api import StrictInputMixin
from guanxi.customers.api.fields import VisibleAccountField, VisiblePersonField, optional_text


@extend_schema_field(OpenApiTypes.INT)
class BuyerAccountField(VisibleAccountField):
    """An account id the user may see (typed for the schema: the input serializer has no model)."""


@extend_schema_field(OpenApiTypes.INT)
class PersonIdField(VisiblePersonField):
    """A person id the user may see (typed for the schema: the input serializer has no model)."""


def money(**kwargs: Any) -> serializers.DecimalField:
    """An amount field shaped like the models' money columns (14 digits, 2 decimals)."""
    return serializers.DecimalField(max_digits=14, decimal_places=2, **kwargs)


class ProductCategorySerializer(StrictInputMixin, serializers.ModelSerializer[ProductCategory]):
    ignored_fields = frozenset({"id"})

    class Meta:
        model = ProductCategory
        fields = ["id", "name", "parent"]


class ProductSerializer(serializers.ModelSerializer[Product]):
    category_name = serializers.CharField(source="category.name", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "category",
            "category_name",
            "description",
            "unit",
            "unit_price",
            "unit_cost",
            "currency",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProductInputSerializer(StrictInputMixin, serializers.ModelSerializer[Product]):
    ignored_fields = frozenset({"id", "category_name", "created_at", "updated_at"})

    class Meta:
        model = Product
        fields = ["sku", "name", "category", "description", "unit", "unit_price", "unit_cost", "currency", "is_active"]
        # Uniqueness and amounts are checked by the service, with the same messages as the UI.
        extra_kwargs: dict[str, dict[str, Any]] = {"sku": {"validators": []}}


class PriceListItemSerializer(serializers.ModelSerializer[PriceListItem]):
    sku = serializers.CharField(source="product.sku", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = PriceListItem
        fields = ["product", "sku", "product_name", "unit_price"]
        read_only_fields = fields


class PriceListSerializer(serializers.ModelSerializer[PriceList]):
    class Meta:
        model = PriceList
        fields = ["id", "name", "currency", "is_default", "is_active", "created_at"]
        read_only_fields = fields


class PriceListDetailSerializer(PriceListSerializer):
    items = PriceListItemSerializer(many=True, read_only=True)

    class Meta(PriceListSerializer.Meta):
        fields = [*PriceListSerializer.Meta.fields, "items"]
        read_only_fields = fields


class PriceListInputSerializer(StrictInputMixin, serializers.ModelSerializer[PriceList]):
    ignored_fields = frozenset({"id", "created_at", "items"})

    class Meta:
        model = PriceList
        fields = ["name", "currency", "is_default", "is_active"]
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}


class PriceInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all())
    unit_price = money()


class OrderLineSerializer(serializers.ModelSerializer[OrderLine]):
    sku = serializers.CharField(source="product.sku", read_only=True, allow_null=True, default=None)
    user_person_name = serializers.CharField(source="user_person.full_name", read_only=True, default=None)

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "position",
            "product",
            "sku",
            "description",
            "quantity",
            "unit_price",
            "discount_amount",
            "line_total",
            "user_person",
            "user_person_name",
        ]
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer[Payment]):
    class Meta:
        model = Payment
        fields = ["id", "order", "amount", "currency", "paid_at", "method", "reference", "created_at"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer[Order]):
    buyer_account_name = serializers.CharField(source="buyer_account.name", read_only=True, default=None)
    buyer_person_name = serializers.CharField(source="buyer_person.full_name", read_only=True, default=None)

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "external_id",
            "buyer_account",
            "buyer_account_name",
            "buyer_person",
            "buyer_person_name",
            "channel",
            "status",
            "currency",
            "price_list",
            "ordered_at",
            "payment_due_date",
            "subtotal_amount",
            "discount_amount",
            "tax_amount",
            "total_amount",
            "paid_amount",
            "note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OrderDetailSerializer(OrderSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)
    payments = PaymentSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "lines", "payments"]
        read_only_fields = fields


class OrderLineInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all(), required=False, allow_null=True)
    description = optional_text(255)
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, required=False, default=Decimal(1))
    unit_price = money(required=False, allow_null=True, default=None)
    discount_amount = money(required=False, default=Decimal(0))
    user_person = PersonIdField(
        required=False, allow_null=True, help_text="Who uses this line (使用人), if not the buyer."
    )


class OrderInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    buyer_account = BuyerAccountField(required=False, allow_null=True)
    buyer_person = PersonIdField(required=False, allow_null=True)
    lines = OrderLineInputSerializer(many=True, allow_empty=False)  # at most 500: checked by the service
    ordered_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    channel = serializers.ChoiceField(choices=OrderChannel.choices, required=False, default=OrderChannel.DIRECT)
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False, default=OrderStatus.CONFIRMED)
    currency = serializers.CharField(max_length=3, min_length=3, required=False, default="CNY")
    price_list = serializers.PrimaryKeyRelatedField(queryset=PriceList.objects.all(), required=False, allow_null=True)
    number = serializers.CharField(max_length=40, required=False, allow_null=True, default=None)
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True, default=None)
    discount_amount = money(required=False, default=Decimal(0))
    tax_amount = money(required=False, default=Decimal(0))
    payment_due_date = serializers.DateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)


class StatusInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=OrderStatus.choices)


class PaymentInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    order = serializers.IntegerField(min_value=1)
    amount = money()
    paid_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    method = serializers.ChoiceField(choices=PaymentMethod.choices, required=False, default=PaymentMethod.OTHER)
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


# The shop feed ----------------------------------------------------------------------------------


class FeedLineSerializer(serializers.Serializer[Any]):
    """One line of a feed order (documentation of the shape; `services.feed` validates it)."""

    sku = serializers.CharField(required=False, help_text="Product SKU; omit for a free-text line.")
    description = serializers.CharField(required=False)
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, required=False)
    unit_price = money(required=False, help_text="Omitted: the price list's price.")
    discount_amount = money(required=False)
    user_person_id = serializers.IntegerField(required=False, help_text="The line's user (使用人), by id…")
    user_email = serializers.CharField(required=False, help_text="…or by e-mail…")
    user_phone = serializers.CharField(required=False, help_text="…or by phone.")


class FeedPaymentSerializer(serializers.Serializer[Any]):
    """A payment the shop already received for a feed order (documentation; the feed validates it)."""

    amount = money(help_text="More than zero; all payments of an order together at most its total.")
    method = serializers.ChoiceField(choices=PaymentMethod.choices, required=False, help_text="Default other.")
    paid_at = serializers.DateTimeField(required=False, help_text="Default: when the feed is received.")
    reference = serializers.CharField(required=False, max_length=100, help_text="The payment's own reference.")


class FeedOrderSerializer(serializers.Serializer[Any]):
    """One feed order; the buyer by id, or found by e-mail or phone (created when unknown)."""

    external_id = serializers.CharField(help_text="The shop's order id; a feed sent twice stores the order once.")
    number = serializers.CharField(required=False)
    buyer_account_id = serializers.IntegerField(required=False)
    buyer_person_id = serializers.IntegerField(required=False)
    buyer_email = serializers.CharField(required=False)
    buyer_phone = serializers.CharField(required=False)
    buyer_family_name = serializers.CharField(required=False, help_text="Used when a new person is created.")
    buyer_given_name = serializers.CharField(required=False)
    ordered_at = serializers.DateTimeField(required=False)
    channel = serializers.ChoiceField(choices=OrderChannel.choices, required=False, help_text="Default online_shop.")
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    currency = serializers.CharField(required=False)
    price_list_id = serializers.IntegerField(required=False)
    discount_amount = money(required=False)
    tax_amount = money(required=False)
    payment_due_date = serializers.DateField(required=False)
    note = serializers.CharField(required=False)
    lines = FeedLineSerializer(many=True)
    payments = FeedPaymentSerializer(
        many=True,
        required=False,
        help_text="Money already received; the order is stored paid. A refused payment rejects the order, "
        "with the error under e.g. `payments[0].amount`. Not repeated when the order already exists.",
    )


class BulkOrdersDocSerializer(serializers.Serializer[Any]):
    orders = FeedOrderSerializer(many=True, help_text="Up to 1,000 orders.")


class BulkOrdersInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    orders = serializers.ListField(child=serializers.JSONField(), allow_empty=False, max_length=1000)


class FeedRowSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    id = serializers.IntegerField()
    number = serializers.CharField()


class FeedErrorSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    field = serializers.CharField()
    reason = serializers.CharField()


class BulkOrdersResultSerializer(serializers.Serializer[Any]):
    created = FeedRowSerializer(many=True)
    existing = FeedRowSerializer(many=True)
    # The metaclass moves declared fields out of the class body, so Serializer.errors is unaffected.
    errors = FeedErrorSerializer(many=True)  # type: ignore[assignment]  # output key named like the property
