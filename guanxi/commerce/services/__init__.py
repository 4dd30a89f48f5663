"""Every write to products, price lists, orders and payments. Views, the API, feeds and the demo
loader all come through here, so each rule (who may, what is valid, what history is kept) is
written once.

Split by concern: `catalogue` (products, categories, price lists), `orders` (one order, its
status and payments) and `feed` (an online shop's batch of orders, idempotent on external id).
"""

from guanxi.commerce.services.catalogue import (
    create_category,
    create_price_list,
    create_product,
    delete_price_list_item,
    set_price,
    update_category,
    update_price_list,
    update_product,
)
from guanxi.commerce.services.common import can_edit_catalogue, can_write_orders
from guanxi.commerce.services.feed import BulkResult, bulk_create_orders
from guanxi.commerce.services.orders import (
    ALLOWED_TRANSITIONS,
    create_order,
    price_for,
    record_payment,
    set_order_status,
)
from guanxi.commerce.services.price_lists import assign_price_list, assigned_price_list, price_list_for_buyer

__all__ = [
    "ALLOWED_TRANSITIONS",
    "BulkResult",
    "assign_price_list",
    "assigned_price_list",
    "bulk_create_orders",
    "can_edit_catalogue",
    "can_write_orders",
    "create_category",
    "create_order",
    "create_price_list",
    "create_product",
    "delete_price_list_item",
    "price_for",
    "price_list_for_buyer",
    "record_payment",
    "set_order_status",
    "set_price",
    "update_category",
    "update_price_list",
    "update_product",
]
