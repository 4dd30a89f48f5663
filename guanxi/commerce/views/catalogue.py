"""Products and price lists: everyone signed in reads them; admins and sales managers change them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from guanxi.commerce import queries, services
from guanxi.commerce.forms import CategoryForm, PriceForm, PriceListForm, ProductFilterForm, ProductForm
from guanxi.commerce.models import PriceList, PriceListItem, Product
from guanxi.commerce.views.common import add_service_errors, paged_list, request_user

PRODUCT_SORT_LABELS = {
    "name": gettext_lazy("Name"),
    "sku": gettext_lazy("SKU"),
    "unit_price": gettext_lazy("Unit price"),
    "updated_at": gettext_lazy("Last updated"),
}


def _require_editor(request: HttpRequest) -> None:
    if not services.can_edit_catalogue(request_user(request)):
        raise PermissionDenied(_("Only an admin or a sales manager may change products and prices."))


@login_required
@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    filters = queries.ProductFilters.from_query(request.GET)
    queryset = queries.filter_products(queries.visible_products(user), filters)
    context = paged_list(
        request,
        queryset,
        queryset.select_related("category"),
        orderings=queries.PRODUCT_ORDERING,
        default="name",
        labels=PRODUCT_SORT_LABELS,
    )
    context.update(
        {
            "filter_form": ProductFilterForm(request.GET),
            "is_filtered": bool(filters.q or filters.category or filters.active),
            "can_edit": services.can_edit_catalogue(user),
        }
    )
    return render(request, "commerce/product_list.html", context)


@login_required
def product_create(request: HttpRequest) -> HttpResponse:
    _require_editor(request)
    form = ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.create_product(request_user(request), form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Created the product %(name)s.") % {"name": product.name})
            return redirect("commerce:product-list")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "commerce/product_form.html", {"form": form, "product": None}, status=status)


@login_required
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_editor(request)
    product = get_object_or_404(Product, pk=pk)
    form = ProductForm(request.POST or None, instance=product)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_product(request_user(request), product, form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved the product %(name)s.") % {"name": form.cleaned_data["name"]})
            return redirect("commerce:product-list")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "commerce/product_form.html", {"form": form, "product": product}, status=status)


@login_required
def category_create(request: HttpRequest) -> HttpResponse:
    _require_editor(request)
    form = CategoryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            category = services.create_category(request_user(request), form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Created the category %(name)s.") % {"name": category.name})
            return redirect("commerce:product-list")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "commerce/category_form.html", {"form": form}, status=status)


@login_required
@require_GET
def price_list_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    price_lists = queries.visible_price_lists(user).annotate(item_count=Count("items")).order_by("currency", "name")
    return render(
        request,
        "commerce/price_list_list.html",
        {"price_lists": price_lists, "can_edit": services.can_edit_catalogue(user)},
    )


@login_required
@require_GET
def price_list_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    items = PriceListItem.objects.select_related("product").order_by("product__name", "id")
    price_list = get_object_or_404(
        queries.visible_price_lists(user).prefetch_related(Prefetch("items", queryset=items)), pk=pk
    )
    can_edit = services.can_edit_catalogue(user)
    return render(
        request,
        "commerce/price_list_detail.html",
        {"price_list": price_list, "can_edit": can_edit, "price_form": PriceForm() if can_edit else None},
    )


@login_required
def price_list_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _require_editor(request)
    price_list = get_object_or_404(PriceList, pk=pk) if pk is not None else None
    form = PriceListForm(request.POST or None, instance=price_list)
    if request.method == "POST" and form.is_valid():
        user = request_user(request)
        try:
            if price_list is None:
                saved = services.create_price_list(user, form.cleaned_data)
            else:
                saved = services.update_price_list(user, price_list, form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved the price list %(name)s.") % {"name": saved.name})
            return redirect("commerce:price-list-detail", pk=saved.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "commerce/price_list_form.html", {"form": form, "price_list": price_list}, status=status)


@login_required
@require_POST
def price_set(request: HttpRequest, pk: int) -> HttpResponse:
    _require_editor(request)
    price_list = get_object_or_404(PriceList, pk=pk)
    form = PriceForm(request.POST)
    if form.is_valid():
        try:
            services.set_price(
                request_user(request), price_list, form.cleaned_data["product"], form.cleaned_data["unit_price"]
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Saved the price."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("commerce:price-list-detail", pk=price_list.pk)


@login_required
@require_POST
def price_remove(request: HttpRequest, pk: int) -> HttpResponse:
    _require_editor(request)
    item = get_object_or_404(PriceListItem.objects.select_related("price_list", "product"), pk=pk)
    services.delete_price_list_item(request_user(request), item)
    messages.success(request, _("Removed the price of %(product)s.") % {"product": item.product.name})
    return redirect("commerce:price-list-detail", pk=item.price_list_id)
