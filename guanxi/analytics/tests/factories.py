"""Test data for analytics: customers through the customers services, orders as plain rows.

Analytics only reads orders, so tests write them directly as purchase history (with the
numbers and timestamps a test needs) instead of going through the commerce services, whose
pricing and numbering rules are not what these tests are about.
"""

import datetime as dt
import itertools
from decimal import Decimal

from guanxi.activities.models import Activity, Initiator
from guanxi.commerce.models import Order, OrderLine, OrderStatus, Product
from guanxi.customers.models import Account, Person

_numbers = itertools.count(1)


def product(name: str) -> Product:
    return Product.objects.get_or_create(sku=name.upper(), defaults={"name": name})[0]


def order(
    buyer: Account | Person,
    at: dt.datetime,
    amount: float | str,
    *,
    products: tuple[str, ...] = (),
    status: str = OrderStatus.CONFIRMED,
) -> Order:
    """One order of `amount` (split evenly over `products`' lines) placed at `at`."""
    total = Decimal(str(amount))
    created = Order.objects.create(
        number=f"T{next(_numbers):08d}",
        buyer_account=buyer if isinstance(buyer, Account) else None,
        buyer_person=buyer if isinstance(buyer, Person) else None,
        ordered_at=at if at.tzinfo else at.replace(tzinfo=dt.UTC),
        total_amount=total,
        subtotal_amount=total,
        status=status,
    )
    share = (total / len(products)).quantize(Decimal("0.01")) if products else Decimal("0")
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=created, position=i, product=product(name), description=name, unit_price=share, line_total=share
            )
            for i, name in enumerate(products)
        ]
    )
    return created


def activity(
    customer: Account | Person,
    at: dt.datetime,
    *,
    by_customer: bool = False,
    answered_after: dt.timedelta | None = None,
    kind: str = "call",
) -> Activity:
    """A follow-up record as stored history (analytics only reads it)."""
    return Activity.objects.create(
        account=customer if isinstance(customer, Account) else None,
        person=customer if isinstance(customer, Person) else None,
        kind=kind,
        subject="contact",
        occurred_at=at,
        initiated_by=Initiator.CUSTOMER if by_customer else Initiator.US,
        answered_at=at + answered_after if answered_after is not None else None,
    )


def monthly_orders(buyer: Account | Person, first: dt.date, months: int, amount: float = 100) -> None:
    """One order on the 10th of each of `months` months from `first`, as a contract customer places them."""
    year, month = first.year, first.month
    for _ in range(months):
        order(buyer, dt.datetime(year, month, 10, 12, tzinfo=dt.UTC), amount)
        month += 1
        if month > 12:
            year, month = year + 1, 1
