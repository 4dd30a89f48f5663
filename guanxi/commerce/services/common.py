"""What several commerce services share: who may write, parsing amounts, handing out numbers."""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from guanxi.commerce.models import Order, OrderNumberCounter
from guanxi.staff.models import StaffRole

#: Roles that take orders and payments. Marketers and analysts read purchase history only.
ORDER_WRITER_ROLES = frozenset({StaffRole.ADMIN, StaffRole.SALES_MANAGER, StaffRole.SALES_REP, StaffRole.SERVICE_AGENT})
#: Roles that keep the catalogue (products, categories, price lists): pricing is a manager's call.
CATALOGUE_ROLES = frozenset({StaffRole.ADMIN, StaffRole.SALES_MANAGER})
ORDER_NUMBER_PREFIX = "SO-"
CENT = Decimal("0.01")


def _active(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def can_write_orders(user: Any) -> bool:
    return _active(user) and (user.is_admin or user.role in ORDER_WRITER_ROLES)


def can_edit_catalogue(user: Any) -> bool:
    return _active(user) and (user.is_admin or user.role in CATALOGUE_ROLES)


def require_order_writer(user: Any) -> None:
    if not can_write_orders(user):
        raise PermissionDenied(_("You may not take orders or record payments."))


def require_catalogue_editor(user: Any) -> None:
    if not can_edit_catalogue(user):
        raise PermissionDenied(_("Only an admin or a sales manager may change products and prices."))


def parse_amount(value: Any, *, places: int = 2, positive: bool = False) -> Decimal:
    """A Decimal from user or feed input, refusing floats' binary noise and extra decimals.

    Raises ValueError with a message for the user; callers attach it to the field.
    """
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(_("Enter a number."))
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(_("Enter a number.")) from exc
    if not number.is_finite():
        raise ValueError(_("Enter a number."))
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places and number != number.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(_("Use at most %(places)d decimal places.") % {"places": places})
    if positive and number <= 0:
        raise ValueError(_("Enter a number greater than zero."))
    if not positive and number < 0:
        raise ValueError(_("Enter zero or more."))
    if abs(number) >= Decimal(10) ** (12 if places <= 2 else 9):
        raise ValueError(_("This number is too large."))
    return number.quantize(Decimal(1).scaleb(-places))


def reserve_order_numbers(count: int) -> list[str]:
    """`count` new order numbers, unique even under concurrent transactions.

    The UPDATE takes the counter row's lock until commit, so a second transaction waits and
    then continues after our range. Numbers somebody typed by hand in the same pattern are
    skipped rather than collided with.
    """
    if count <= 0:
        return []
    counter = OrderNumberCounter.objects.filter(prefix=ORDER_NUMBER_PREFIX)
    numbers: list[str] = []
    while len(numbers) < count:
        wanted = count - len(numbers)
        if not counter.update(value=F("value") + wanted):
            try:
                with transaction.atomic():
                    OrderNumberCounter.objects.create(prefix=ORDER_NUMBER_PREFIX, value=0)
            except IntegrityError:
                pass  # another transaction created it first; the update below waits for its lock
            counter.update(value=F("value") + wanted)
        last = counter.values_list("value", flat=True).get()
        batch = [f"{ORDER_NUMBER_PREFIX}{n:06d}" for n in range(last - wanted + 1, last + 1)]
        taken = set(Order.objects.filter(number__in=batch).values_list("number", flat=True))
        numbers.extend(number for number in batch if number not in taken)
    return numbers
