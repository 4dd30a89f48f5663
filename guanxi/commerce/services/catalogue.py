"""Products, categories and price lists: the catalogue admins and sales managers keep."""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from guanxi.commerce.models import PriceList, PriceListItem, Product, ProductCategory
from guanxi.commerce.services.common import parse_amount, require_catalogue_editor
from guanxi.core.history import diff, record_change, snapshot
from guanxi.core.models import ChangeAction
from guanxi.staff.models import User

PRODUCT_FIELDS = (
    "sku",
    "name",
    "category",
    "description",
    "unit",
    "unit_price",
    "unit_cost",
    "currency",
    "is_active",
)
CATEGORY_FIELDS = ("name", "parent")
PRICE_LIST_FIELDS = ("name", "currency", "is_default", "is_active")


def _assign(instance: Model, data: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})
    for name, value in data.items():
        setattr(instance, name, value)


def _full_clean(instance: Model, exclude: Sequence[str] = ()) -> None:
    """Model validation including uniqueness, so a taken SKU or name is a field error, not a crash."""
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc


def _clean_product(product: Product) -> None:
    product.sku = product.sku.strip()
    product.name = product.name.strip()
    product.currency = (product.currency or "").strip().upper()
    errors: dict[str, list[str]] = {}
    for name, places, required in (("unit_price", 2, True), ("unit_cost", 2, False)):
        value = getattr(product, name)
        if value is None and not required:
            continue
        try:
            setattr(product, name, parse_amount(value, places=places))
        except ValueError as exc:
            errors[name] = [str(exc)]
    if len(product.currency) != 3 or not product.currency.isalpha():
        errors["currency"] = [_("Enter a three-letter currency code such as CNY.")]
    if errors:
        raise ValidationError(errors)
    _full_clean(product, exclude=["category"])


@transaction.atomic
def create_product(actor: User, data: Mapping[str, Any]) -> Product:
    require_catalogue_editor(actor)
    product = Product()
    _assign(product, data, PRODUCT_FIELDS)
    _clean_product(product)
    product.save()
    record_change(product, actor=actor, action=ChangeAction.CREATE, changes=diff({}, snapshot(product, PRODUCT_FIELDS)))
    return product


@transaction.atomic
def update_product(actor: User, product: Product, data: Mapping[str, Any]) -> Product:
    require_catalogue_editor(actor)
    product = Product.objects.select_for_update().get(pk=product.pk)
    before = snapshot(product, PRODUCT_FIELDS)
    _assign(product, data, PRODUCT_FIELDS)
    _clean_product(product)
    product.save()
    record_change(
        product, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, snapshot(product, PRODUCT_FIELDS))
    )
    return product


def _check_category_parent(category: ProductCategory) -> None:
    seen = {category.pk} if category.pk else set()
    parent = category.parent
    while parent is not None:
        if parent.pk in seen:
            raise ValidationError({"parent": [_("A category cannot be its own ancestor.")]})
        seen.add(parent.pk)
        parent = parent.parent


@transaction.atomic
def create_category(actor: User, data: Mapping[str, Any]) -> ProductCategory:
    require_catalogue_editor(actor)
    category = ProductCategory()
    _assign(category, data, CATEGORY_FIELDS)
    category.name = category.name.strip()
    _full_clean(category, exclude=["parent"])
    category.save()
    record_change(
        category, actor=actor, action=ChangeAction.CREATE, changes=diff({}, snapshot(category, CATEGORY_FIELDS))
    )
    return category


@transaction.atomic
def update_category(actor: User, category: ProductCategory, data: Mapping[str, Any]) -> ProductCategory:
    require_catalogue_editor(actor)
    category = ProductCategory.objects.select_for_update().get(pk=category.pk)
    before = snapshot(category, CATEGORY_FIELDS)
    _assign(category, data, CATEGORY_FIELDS)
    category.name = category.name.strip()
    _full_clean(category, exclude=["parent"])
    _check_category_parent(category)
    category.save()
    record_change(
        category, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, snapshot(category, CATEGORY_FIELDS))
    )
    return category


def _clean_price_list(price_list: PriceList) -> None:
    price_list.name = price_list.name.strip()
    price_list.currency = (price_list.currency or "").strip().upper()
    if len(price_list.currency) != 3 or not price_list.currency.isalpha():
        raise ValidationError({"currency": [_("Enter a three-letter currency code such as CNY.")]})
    _full_clean(price_list)


def _one_default_per_currency(price_list: PriceList) -> None:
    """Orders without a price list use their currency's default list, so there is at most one."""
    if price_list.is_default:
        PriceList.objects.filter(currency=price_list.currency, is_default=True).exclude(pk=price_list.pk).update(
            is_default=False
        )


@transaction.atomic
def create_price_list(actor: User, data: Mapping[str, Any]) -> PriceList:
    require_catalogue_editor(actor)
    price_list = PriceList()
    _assign(price_list, data, PRICE_LIST_FIELDS)
    _clean_price_list(price_list)
    price_list.save()
    _one_default_per_currency(price_list)
    record_change(
        price_list, actor=actor, action=ChangeAction.CREATE, changes=diff({}, snapshot(price_list, PRICE_LIST_FIELDS))
    )
    return price_list


@transaction.atomic
def update_price_list(actor: User, price_list: PriceList, data: Mapping[str, Any]) -> PriceList:
    require_catalogue_editor(actor)
    price_list = PriceList.objects.select_for_update().get(pk=price_list.pk)
    before = snapshot(price_list, PRICE_LIST_FIELDS)
    old_currency = price_list.currency
    _assign(price_list, data, PRICE_LIST_FIELDS)
    _clean_price_list(price_list)
    if price_list.currency != old_currency and price_list.items.exists():
        raise ValidationError({"currency": [_("Remove this list's prices before changing its currency.")]})
    price_list.save()
    _one_default_per_currency(price_list)
    record_change(
        price_list,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes=diff(before, snapshot(price_list, PRICE_LIST_FIELDS)),
    )
    return price_list


@transaction.atomic
def set_price(actor: User, price_list: PriceList, product: Product, unit_price: Any) -> PriceListItem:
    """Set (or change) a product's price on a list; the list's history shows old and new price."""
    require_catalogue_editor(actor)
    try:
        price = parse_amount(unit_price)
    except ValueError as exc:
        raise ValidationError({"unit_price": [str(exc)]}) from exc
    item = PriceListItem.objects.select_for_update().filter(price_list=price_list, product=product).first()
    old: Decimal | None = item.unit_price if item is not None else None
    if item is None:
        item = PriceListItem.objects.create(price_list=price_list, product=product, unit_price=price)
    elif item.unit_price != price:
        item.unit_price = price
        item.save(update_fields=["unit_price"])
    if old != price:
        record_change(
            price_list,
            actor=actor,
            action=ChangeAction.UPDATE,
            changes={f"prices.{product.sku}": [str(old) if old is not None else None, str(price)]},
        )
    return item


@transaction.atomic
def delete_price_list_item(actor: User, item: PriceListItem) -> None:
    require_catalogue_editor(actor)
    record_change(
        item.price_list,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes={f"prices.{item.product.sku}": [str(item.unit_price), None]},
    )
    item.delete()
