"""Pages of the commerce app, under /commerce/."""

from django.urls import URLPattern, path

from guanxi.commerce.views import catalogue, orders

app_name = "commerce"

urlpatterns: list[URLPattern] = [
    path("orders/", orders.order_list, name="order-list"),
    path("orders/new/", orders.order_create, name="order-create"),
    path("orders/<int:pk>/", orders.order_detail, name="order-detail"),
    path("orders/<int:pk>/status/", orders.order_status, name="order-status"),
    path("orders/<int:pk>/payments/", orders.order_payment, name="order-payment"),
    path("products/", catalogue.product_list, name="product-list"),
    path("products/new/", catalogue.product_create, name="product-create"),
    path("products/<int:pk>/edit/", catalogue.product_edit, name="product-edit"),
    path("categories/new/", catalogue.category_create, name="category-create"),
    path("price-lists/", catalogue.price_list_list, name="price-list-list"),
    path("price-lists/new/", catalogue.price_list_form, name="price-list-create"),
    path("price-lists/<int:pk>/", catalogue.price_list_detail, name="price-list-detail"),
    path("price-lists/<int:pk>/edit/", catalogue.price_list_form, name="price-list-edit"),
    path("price-lists/<int:pk>/prices/", catalogue.price_set, name="price-set"),
    path("prices/<int:pk>/remove/", catalogue.price_remove, name="price-remove"),
]
