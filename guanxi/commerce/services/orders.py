"""One order: taking it, moving its status, recording what was paid against it.

`prepare_order` holds every rule for a new order and is shared with the feed (`feed.py`), which
looks buyers, products and prices up in bulk and hands them in through `OrderContext`; a single
order builds its own small context. Either way the same validation and the same arithmetic run.
"""

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

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
)
from guanxi.commerce.queries import order_visible_q
from guanxi.commerce.services.common import CENT, parse_amount, require_order_writer, reserve_order_numbers
from guanxi.commerce.services.price_lists import price_list_for_buyer
from guanxi.core.history import diff, record_change, snapshot
from guanxi.core.models import ChangeAction
from guanxi.customers import services as customer_services
from guanxi.customers.models import Account, Person
from guanxi.staff import access
from guanxi.staff.models import User

ORDER_FIELDS = (
    "number",
    "external_id",
    "buyer_account",
    "buyer_person",
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
    "note",
)

#: Where an order may go from each status. Cancelled and returned are final: a new order is
#: taken instead, so the purchase history the analytics reads never rewrites itself.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED}),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.FULFILLED, OrderStatus.CANCELLED, OrderStatus.PENDING}),
    OrderStatus.FULFILLED: frozenset({OrderStatus.RETURNED}),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.RETURNED: frozenset(),
}
#: Statuses that mean the customer bought: they count as a won deal for the reclaim rules.
WON_STATUSES = frozenset({OrderStatus.CONFIRMED, OrderStatus.FULFILLED})
PAYABLE_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.CONFIRMED, OrderStatus.FULFILLED})


@dataclass
class OrderContext:
    """What validating an order needs to look up, fetched once per order or once per feed batch."""

    visible_account_ids: set[int] = field(default_factory=set)
    visible_person_ids: set[int] = field(default_factory=set)
    #: (price list id, product id) → price
    prices: dict[tuple[int, int], Decimal] = field(default_factory=dict)
    #: currency → the active default price list for it
    default_lists: dict[str, PriceList] = field(default_factory=dict)
    taken_numbers: set[str] = field(default_factory=set)
    taken_external_ids: set[str] = field(default_factory=set)


def price_for(product: Product, price_list: PriceList | None) -> Decimal:
    """The product's price on `price_list`, or its own unit price when the list has none."""
    if price_list is not None:
        item = PriceListItem.objects.filter(price_list=price_list, product=product).values_list("unit_price", flat=True)
        price = item.first()
        if price is not None:
            return price
    return product.unit_price


def _visible_ids(actor: User, model: type[Account] | type[Person], ids: set[int]) -> set[int]:
    if not ids:
        return set()
    team_field = "team" if model is Account else None
    return set(
        model.objects.filter(access.visible_q(actor, team_field=team_field), pk__in=ids).values_list("pk", flat=True)
    )


def build_context(
    actor: User,
    *,
    account_ids: set[int],
    person_ids: set[int],
    product_ids: set[int],
    price_list_ids: set[int],
    currencies: set[str],
    numbers: set[str],
    external_ids: set[str],
) -> OrderContext:
    """Look everything up in a fixed number of queries, whatever the number of orders and lines."""
    context = OrderContext(
        visible_account_ids=_visible_ids(actor, Account, account_ids),
        visible_person_ids=_visible_ids(actor, Person, person_ids),
    )
    if currencies:
        for price_list in PriceList.objects.filter(currency__in=currencies, is_default=True, is_active=True).order_by(
            "-id"
        ):
            context.default_lists.setdefault(price_list.currency, price_list)
    list_ids = price_list_ids | {p.pk for p in context.default_lists.values()}
    if product_ids and list_ids:
        context.prices = {
            (list_id, product_id): price
            for list_id, product_id, price in PriceListItem.objects.filter(
                price_list_id__in=list_ids, product_id__in=product_ids
            ).values_list("price_list_id", "product_id", "unit_price")
        }
    if numbers:
        context.taken_numbers = set(Order.objects.filter(number__in=numbers).values_list("number", flat=True))
    if external_ids:
        context.taken_external_ids = {
            value
            for value in Order.objects.filter(external_id__in=external_ids).values_list("external_id", flat=True)
            if value is not None
        }
    return context


def _set_error(errors: dict[str, list[str]], key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


def _amount(errors: dict[str, list[str]], key: str, value: Any, *, places: int = 2, positive: bool = False) -> Decimal:
    try:
        return parse_amount(value, places=places, positive=positive)
    except ValueError as exc:
        _set_error(errors, key, str(exc))
        return Decimal(0)


def prepare_order(
    actor: User,
    context: OrderContext,
    *,
    buyer_account: Account | None,
    buyer_person: Person | None,
    lines: Sequence[Mapping[str, Any]],
    ordered_at: datetime.datetime | None,
    channel: str,
    status: str,
    currency: str,
    price_list: PriceList | None,
    number: str | None,
    external_id: str | None,
    discount_amount: Any,
    tax_amount: Any,
    payment_due_date: datetime.date | None,
    note: str,
) -> tuple[Order, list[OrderLine]]:
    """Validate one order and build its unsaved rows; every problem is reported at once, by field.

    Line errors are keyed `lines[i].field` (i from 0), so a form or a feed can point at the cell.
    """
    errors: dict[str, list[str]] = {}
    if buyer_account is None and buyer_person is None:
        _set_error(errors, "buyer", _("Choose the buyer: an account or a person."))
    if buyer_account is not None and buyer_account.pk not in context.visible_account_ids:
        _set_error(errors, "buyer_account", _("You may not see this account."))
    if buyer_person is not None and buyer_person.pk not in context.visible_person_ids:
        _set_error(errors, "buyer_person", _("You may not see this person."))
    if channel not in OrderChannel.values:
        _set_error(errors, "channel", _("Unknown channel: %(value)s") % {"value": channel})
    if status not in OrderStatus.values:
        _set_error(errors, "status", _("Unknown status: %(value)s") % {"value": status})
    currency = (currency or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        _set_error(errors, "currency", _("Enter a three-letter currency code such as CNY."))
    if price_list is None:
        price_list = context.default_lists.get(currency)
    elif price_list.currency != currency:
        _set_error(
            errors,
            "currency",
            _("The price list %(name)s is in %(list_currency)s, not %(currency)s.")
            % {"name": price_list.name, "list_currency": price_list.currency, "currency": currency},
        )
    if number is not None:
        number = number.strip()
        if not number:
            number = None
        elif len(number) > 40:
            _set_error(errors, "number", _("An order number has at most 40 characters."))
        elif number in context.taken_numbers:
            _set_error(errors, "number", _("An order with this number already exists."))
    if external_id is not None:
        external_id = external_id.strip() or None
        if external_id and len(external_id) > 100:
            _set_error(errors, "external_id", _("An external id has at most 100 characters."))
        elif external_id and external_id in context.taken_external_ids:
            _set_error(errors, "external_id", _("An order with this external id already exists."))
    if ordered_at is None:
        ordered_at = timezone.now()
    elif timezone.is_naive(ordered_at):
        ordered_at = timezone.make_aware(ordered_at)
    order_discount = _amount(errors, "discount_amount", discount_amount)
    tax = _amount(errors, "tax_amount", tax_amount)
    if len(note) > 10_000:
        _set_error(errors, "note", _("A note has at most 10,000 characters."))

    if not lines:
        _set_error(errors, "lines", _("An order needs at least one line."))
    if len(lines) > 500:
        _set_error(errors, "lines", _("An order has at most 500 lines."))
    built: list[OrderLine] = []
    subtotal = Decimal(0)
    for index, line in enumerate(lines[:500]):
        key = f"lines[{index}]"
        product: Product | None = line.get("product")
        quantity = _amount(errors, f"{key}.quantity", line.get("quantity", Decimal(1)), places=3, positive=True)
        raw_price = line.get("unit_price")
        if raw_price is None or raw_price == "":
            if product is None:
                _set_error(errors, f"{key}.unit_price", _("Enter a unit price for a line without a product."))
                unit_price = Decimal(0)
            elif price_list is not None and (price_list.pk, product.pk) in context.prices:
                unit_price = context.prices[(price_list.pk, product.pk)]
            elif product.currency == currency:
                unit_price = product.unit_price
            else:
                _set_error(
                    errors,
                    f"{key}.unit_price",
                    _("%(product)s has no price in %(currency)s; enter a unit price.")
                    % {"product": product.name, "currency": currency},
                )
                unit_price = Decimal(0)
        else:
            unit_price = _amount(errors, f"{key}.unit_price", raw_price)
        line_discount = _amount(errors, f"{key}.discount_amount", line.get("discount_amount", Decimal(0)))
        description = str(line.get("description") or (product.name if product is not None else "")).strip()
        if not description:
            _set_error(errors, f"{key}.description", _("Describe a line without a product."))
        elif len(description) > 255:
            _set_error(errors, f"{key}.description", _("A description has at most 255 characters."))
        gross = (quantity * unit_price).quantize(CENT)
        if line_discount > gross:
            _set_error(errors, f"{key}.discount_amount", _("The discount is larger than the line amount."))
        user_person: Person | None = line.get("user_person")
        if user_person is not None and user_person.pk not in context.visible_person_ids:
            _set_error(errors, f"{key}.user_person", _("You may not see this person."))
        line_total = gross - line_discount
        subtotal += line_total
        built.append(
            OrderLine(
                position=index + 1,
                product=product,
                description=description[:255],
                quantity=quantity,
                unit_price=unit_price,
                discount_amount=line_discount,
                line_total=line_total,
                user_person=user_person,
            )
        )
    if order_discount > subtotal and not any(k.startswith("lines") for k in errors):
        _set_error(errors, "discount_amount", _("The discount is larger than the order's subtotal."))
    if errors:
        raise ValidationError(errors)
    order = Order(
        number=number or "",
        external_id=external_id,
        buyer_account=buyer_account,
        buyer_person=buyer_person,
        channel=channel,
        status=status,
        currency=currency,
        price_list=price_list,
        ordered_at=ordered_at,
        payment_due_date=payment_due_date,
        subtotal_amount=subtotal,
        discount_amount=order_discount,
        tax_amount=tax,
        total_amount=subtotal - order_discount + tax,
        note=note,
        created_by=actor if actor.pk else None,
    )
    return order, built


def line_label(line: OrderLine) -> str:
    """How a line reads in history: what, how many, at what price, for whom."""
    label = f"{line.description} × {line.quantity.normalize():f} @ {line.unit_price}"
    if line.user_person_id:
        label += f" → #{line.user_person_id}"
    return label


def order_history(order: Order, lines: Sequence[OrderLine]) -> dict[str, list[Any]]:
    """The create entry of an order: its fields and a readable line per order line."""
    return diff({}, snapshot(order, ORDER_FIELDS, {"lines": [line_label(line) for line in lines]}))


def mark_won(orders: Sequence[Order]) -> None:
    """Buying is winning a deal: the shared pool's reclaim rule must not take the buyer away."""
    by_model: dict[type[Account] | type[Person], dict[int, datetime.datetime]] = {Account: {}, Person: {}}
    for order in orders:
        if order.status not in WON_STATUSES:
            continue
        for model, pk in ((Account, order.buyer_account_id), (Person, order.buyer_person_id)):
            if pk is not None:
                current = by_model[model].get(pk)
                by_model[model][pk] = max(current, order.ordered_at) if current else order.ordered_at
    for model, latest in by_model.items():
        # Group by date so a feed costs a handful of UPDATEs, not one per buyer.
        by_date: dict[datetime.datetime, list[int]] = {}
        for pk, at in latest.items():
            by_date.setdefault(at, []).append(pk)
        for at, ids in by_date.items():
            if model is Account:
                customer_services.record_won_deal(Account, ids, at)
            else:
                customer_services.record_won_deal(Person, ids, at)


@transaction.atomic
def create_order(
    actor: User,
    *,
    buyer_account: Account | None = None,
    buyer_person: Person | None = None,
    lines: Sequence[Mapping[str, Any]],
    ordered_at: datetime.datetime | None = None,
    channel: str = OrderChannel.DIRECT,
    status: str = OrderStatus.CONFIRMED,
    currency: str = "CNY",
    price_list: PriceList | None = None,
    number: str | None = None,
    external_id: str | None = None,
    discount_amount: Decimal = Decimal(0),
    tax_amount: Decimal = Decimal(0),
    payment_due_date: datetime.date | None = None,
    note: str = "",
) -> Order:
    """Take one order: validate, number it, store it with its lines and keep its history.

    Raises ValidationError keyed by field (`buyer_person`, `lines[2].quantity`…) and
    PermissionDenied for a user who may not take orders.
    """
    require_order_writer(actor)
    if price_list is None:
        # A customer moved to a price list (e.g. from the profitability review) buys at its prices.
        assigned = price_list_for_buyer(buyer_account, buyer_person)
        if assigned is not None and assigned.currency == currency.strip().upper():
            price_list = assigned
    products = {line["product"].pk for line in lines if line.get("product") is not None}
    users = {line["user_person"].pk for line in lines if line.get("user_person") is not None}
    context = build_context(
        actor,
        account_ids={buyer_account.pk} if buyer_account is not None else set(),
        person_ids=({buyer_person.pk} if buyer_person is not None else set()) | users,
        product_ids=products,
        price_list_ids={price_list.pk} if price_list is not None else set(),
        currencies={currency.strip().upper()} if price_list is None else set(),
        numbers={number.strip()} if number else set(),
        external_ids={external_id.strip()} if external_id else set(),
    )
    order, order_lines = prepare_order(
        actor,
        context,
        buyer_account=buyer_account,
        buyer_person=buyer_person,
        lines=lines,
        ordered_at=ordered_at,
        channel=channel,
        status=status,
        currency=currency,
        price_list=price_list,
        number=number,
        external_id=external_id,
        discount_amount=discount_amount,
        tax_amount=tax_amount,
        payment_due_date=payment_due_date,
        note=note,
    )
    if not order.number:
        order.number = reserve_order_numbers(1)[0]
    order.save()
    for line in order_lines:
        line.order = order
    OrderLine.objects.bulk_create(order_lines)
    record_change(order, actor=actor, action=ChangeAction.CREATE, changes=order_history(order, order_lines))
    mark_won([order])
    return order


def _locked_visible_order(actor: User, order: Order) -> Order:
    locked = (
        Order.objects.select_for_update(of=("self",))
        .filter(order_visible_q(actor), pk=order.pk)
        .select_related("buyer_account", "buyer_person", "price_list")
        .first()
    )
    if locked is None:
        raise PermissionDenied(_("You may not see this order."))
    return locked


@transaction.atomic
def set_order_status(actor: User, order: Order, status: str) -> Order:
    """Move an order along `ALLOWED_TRANSITIONS`; anything else is refused with the reason."""
    require_order_writer(actor)
    locked = _locked_visible_order(actor, order)
    if status not in OrderStatus.values:
        raise ValidationError({"status": [_("Unknown status: %(value)s") % {"value": status}]})
    if status == locked.status:
        return locked
    if status not in ALLOWED_TRANSITIONS[locked.status]:
        raise ValidationError(
            {
                "status": [
                    _("An order that is %(current)s cannot become %(new)s.")
                    % {"current": locked.get_status_display(), "new": OrderStatus(status).label}
                ]
            }
        )
    before = locked.status
    locked.status = status
    locked.save(update_fields=["status", "updated_at"])
    record_change(locked, actor=actor, action=ChangeAction.UPDATE, changes={"status": [before, status]})
    mark_won([locked])
    order.status = locked.status
    return locked


@transaction.atomic
def record_payment(
    actor: User,
    order: Order,
    amount: Any,
    paid_at: datetime.datetime | None = None,
    method: str = PaymentMethod.OTHER,
    reference: str = "",
) -> Payment:
    """Record money received against an order; the order's paid amount rises in the same transaction.

    The order row is locked and bumped with an F() update, so two payments recorded at the same
    moment both count. Paying more than is outstanding is refused: an overpayment is a refund
    waiting to happen and should be looked at by a person.
    """
    require_order_writer(actor)
    locked = _locked_visible_order(actor, order)
    errors: dict[str, list[str]] = {}
    value = _amount(errors, "amount", amount, positive=True)
    if locked.status not in PAYABLE_STATUSES:
        _set_error(
            errors, "order", _("A %(status)s order takes no payments.") % {"status": locked.get_status_display()}
        )
    outstanding = locked.total_amount - locked.paid_amount
    if "amount" not in errors and value > outstanding:
        _set_error(
            errors,
            "amount",
            _("Only %(outstanding)s %(currency)s is outstanding.")
            % {"outstanding": outstanding, "currency": locked.currency},
        )
    if method not in PaymentMethod.values:
        _set_error(errors, "method", _("Unknown payment method: %(value)s") % {"value": method})
    reference = (reference or "").strip()
    if len(reference) > 100:
        _set_error(errors, "reference", _("A reference has at most 100 characters."))
    if paid_at is None:
        paid_at = timezone.now()
    elif timezone.is_naive(paid_at):
        paid_at = timezone.make_aware(paid_at)
    if errors:
        raise ValidationError(errors)
    payment = Payment.objects.create(
        order=locked,
        amount=value,
        currency=locked.currency,
        paid_at=paid_at,
        method=method,
        reference=reference,
        created_by=actor if actor.pk else None,
    )
    Order.objects.filter(pk=locked.pk).update(paid_amount=F("paid_amount") + value, updated_at=timezone.now())
    before = locked.paid_amount
    locked.refresh_from_db(fields=["paid_amount", "updated_at"])
    record_change(
        locked,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes={"paid_amount": [str(before), str(locked.paid_amount)]},
        note=_("Payment %(reference)s") % {"reference": reference or payment.pk},
    )
    order.paid_amount = locked.paid_amount
    return payment
