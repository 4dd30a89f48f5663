"""Read helpers that apply visibility. Every order list, record page, panel and API call starts here.

An order has no owner of its own: whoever may see its buyer (the account when there is one,
otherwise the person) may see the order, so handing a customer to another rep hands over the
purchase history with it.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.http import QueryDict
from django.utils.dateparse import parse_date

from guanxi.commerce.models import Order, OrderChannel, OrderLine, OrderStatus, Payment, PriceList, Product
from guanxi.customers import queries as customer_queries
from guanxi.customers.models import Account, Person
from guanxi.staff import access
from guanxi.staff.models import User

ORDER_ORDERING = ("ordered_at", "total_amount", "number")
PRODUCT_ORDERING = ("name", "sku", "unit_price", "updated_at")
#: Orders that count as revenue: a cancelled or returned order was not a sale.
REVENUE_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.FULFILLED)


def order_visible_q(user: Any, prefix: str = "") -> Q:
    """Orders (or rows pointing at orders through `prefix`, e.g. "order__") whose buyer `user` may see."""
    account_q = access.visible_q(
        user, owner_field=f"{prefix}buyer_account__owner", team_field=f"{prefix}buyer_account__team"
    )
    person_q = access.visible_q(user, owner_field=f"{prefix}buyer_person__owner")
    if account_q == Q() and person_q == Q():
        return Q()
    return (Q(**{f"{prefix}buyer_account__isnull": False}) & account_q) | (
        Q(**{f"{prefix}buyer_account__isnull": True}) & person_q
    )


def visible_orders(user: User) -> QuerySet[Order]:
    return Order.objects.filter(order_visible_q(user))


def visible_payments(user: User) -> QuerySet[Payment]:
    return Payment.objects.filter(order_visible_q(user, prefix="order__"))


def visible_products(user: User) -> QuerySet[Product]:
    """The catalogue is not customer data: every signed-in user reads all of it."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Product.objects.none()
    return Product.objects.all()


def visible_price_lists(user: User) -> QuerySet[PriceList]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return PriceList.objects.none()
    return PriceList.objects.all()


@dataclass
class OrderFilters:
    q: str = ""
    status: str = ""
    channel: str = ""
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    buyer_person: int | None = None
    buyer_account: int | None = None
    user_person: int | None = None

    @classmethod
    def from_query(cls, query: QueryDict) -> "OrderFilters":
        def _int(name: str) -> int | None:
            value = query.get(name, "")
            return int(value) if value.isdigit() else None

        def _date(name: str) -> datetime.date | None:
            try:
                return parse_date(query.get(name, "") or "")
            except ValueError:
                return None

        status = query.get("status", "")
        channel = query.get("channel", "")
        return cls(
            q=query.get("q", "").strip()[:100],
            status=status if status in OrderStatus.values else "",
            channel=channel if channel in OrderChannel.values else "",
            date_from=_date("date_from"),
            date_to=_date("date_to"),
            buyer_person=_int("buyer_person"),
            buyer_account=_int("buyer_account"),
            user_person=_int("user_person"),
        )

    @property
    def active(self) -> bool:
        return any(
            (self.q, self.status, self.channel, self.date_from, self.date_to, self.buyer_person, self.buyer_account)
        ) or bool(self.user_person)


def _day_start(day: datetime.date) -> datetime.datetime:
    from django.utils import timezone

    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def filter_orders(queryset: QuerySet[Order], filters: OrderFilters, user: User) -> QuerySet[Order]:
    """Apply list filters; a search term matches the order number or the buyer's name or search keys."""
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.channel:
        queryset = queryset.filter(channel=filters.channel)
    if filters.date_from:
        queryset = queryset.filter(ordered_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        queryset = queryset.filter(ordered_at__lt=_day_start(filters.date_to + datetime.timedelta(days=1)))
    if filters.buyer_person:
        queryset = queryset.filter(buyer_person_id=filters.buyer_person)
    if filters.buyer_account:
        queryset = queryset.filter(buyer_account_id=filters.buyer_account)
    if filters.user_person:
        queryset = queryset.filter(
            pk__in=OrderLine.objects.filter(user_person_id=filters.user_person).values("order_id")
        )
    if filters.q:
        people = customer_queries.search_people(Person.objects.all(), filters.q).values("pk")
        accounts = customer_queries.search_accounts(Account.objects.all(), filters.q).values("pk")
        queryset = queryset.filter(
            Q(number__istartswith=filters.q)
            | Q(external_id=filters.q)
            | Q(buyer_person__in=people)
            | Q(buyer_account__in=accounts)
        )
    return queryset


def order_list_rows(queryset: QuerySet[Order]) -> QuerySet[Order]:
    return queryset.select_related("buyer_account", "buyer_person")


@dataclass
class OrderTotals:
    orders: int
    revenue: Decimal
    paid: Decimal
    last_ordered_at: datetime.datetime | None


def order_totals(queryset: QuerySet[Order]) -> OrderTotals:
    """Count, revenue (confirmed and fulfilled orders only), payments and last order date in one query."""
    data = queryset.order_by().aggregate(
        orders=Count("pk"),
        revenue=Sum("total_amount", filter=Q(status__in=REVENUE_STATUSES)),
        paid=Sum("paid_amount"),
        last=Max("ordered_at"),
    )
    return OrderTotals(
        orders=data["orders"] or 0,
        revenue=data["revenue"] or Decimal("0"),
        paid=data["paid"] or Decimal("0"),
        last_ordered_at=data["last"],
    )


def used_lines_of(person: Person, user: User) -> QuerySet[OrderLine]:
    """Lines `person` uses (使用人) on orders someone else bought, within `user`'s visibility."""
    return (
        OrderLine.objects.filter(order_visible_q(user, prefix="order__"), user_person=person)
        .select_related("order", "order__buyer_person", "order__buyer_account", "product")
        .order_by("-order__ordered_at", "-id")
    )


@dataclass
class ProductFilters:
    q: str = ""
    category: int | None = None
    active: str = ""

    @classmethod
    def from_query(cls, query: QueryDict) -> "ProductFilters":
        category = query.get("category", "")
        active = query.get("active", "")
        return cls(
            q=query.get("q", "").strip()[:100],
            category=int(category) if category.isdigit() else None,
            active=active if active in ("yes", "no") else "",
        )


def filter_products(queryset: QuerySet[Product], filters: ProductFilters) -> QuerySet[Product]:
    if filters.q:
        queryset = queryset.filter(Q(name__icontains=filters.q) | Q(sku__istartswith=filters.q))
    if filters.category:
        queryset = queryset.filter(category_id=filters.category)
    if filters.active:
        queryset = queryset.filter(is_active=filters.active == "yes")
    return queryset
