"""Read-only admin views of orders and payments: they are written by the services only (numbers,
totals, paid amounts and history must agree), so the admin is for looking, not changing."""

from django.contrib import admin
from django.http import HttpRequest

from guanxi.commerce.models import Order, OrderLine, Payment, PriceList, Product, ProductCategory


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]  # ModelAdmin is generic in django-stubs
    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class OrderLineInline(admin.TabularInline):  # type: ignore[type-arg]  # generic in django-stubs
    model = OrderLine
    raw_id_fields = ("product", "user_person")
    extra = 0

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(_ReadOnly):
    list_display = ("number", "ordered_at", "buyer_account", "buyer_person", "status", "total_amount", "paid_amount")
    list_filter = ("status", "channel")
    search_fields = ("number", "external_id")
    raw_id_fields = ("buyer_account", "buyer_person", "created_by", "price_list")
    inlines = [OrderLineInline]


@admin.register(Payment)
class PaymentAdmin(_ReadOnly):
    list_display = ("order", "amount", "currency", "paid_at", "method", "reference")
    raw_id_fields = ("order", "created_by")


@admin.register(Product)
class ProductAdmin(_ReadOnly):
    list_display = ("sku", "name", "category", "unit_price", "currency", "is_active")
    search_fields = ("sku", "name")


@admin.register(ProductCategory)
class ProductCategoryAdmin(_ReadOnly):
    list_display = ("name", "parent")


@admin.register(PriceList)
class PriceListAdmin(_ReadOnly):
    list_display = ("name", "currency", "is_default", "is_active")
