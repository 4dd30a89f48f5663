"""Per-customer behaviour at a point in time, read set-based from the operational apps.

The churn model, the 4 I's and account health all start from the same question: what did
each customer do in the days before `at`? Each source is one grouped query (orders, order
lines, follow-up records, tracked events, referred leads, payments, open tasks) with the time
windows as conditional aggregates, so only one row per customer (or per customer and month /
product) comes back, whatever the number of orders or events. Asking the same question at an
earlier `at` gives the features the churn model learns from (the snapshot method).

Customers are keyed as in `commerce.purchase_history` ("a<id>" for accounts, "p<id>" for
people): a follow-up record, task or order that names an account counts for the account.
Tracked events reach a person through the identity profile of their anonymous id (or,
failing that, their user id); events are a person's, not their account's.

Contract or subscription customers are defined here once (`CONTRACT_RULE`): customers who
bought in at least `min_months` different calendar months of the 365 days before `at`, the
pattern a contract or a subscription leaves in the orders.
"""

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate, TruncMonth

from guanxi.activities.models import Activity, ActivityKind, Initiator, Task, TaskStatus
from guanxi.commerce import purchase_history
from guanxi.commerce.models import Order, OrderLine
from guanxi.leads.models import Lead, LeadStatus
from guanxi.tracking.models import Identifier, IdentifierType, LandedEvent

DAY = dt.timedelta(days=1)
PROMPT_ANSWER = dt.timedelta(hours=24)
SHARE_WORDS = ("share", "分享")
REVIEW_WORDS = ("review", "rating", "评价")
CONTRACT_MIN_MONTHS = 3
CONTRACT_RULE = "bought in at least {months} different calendar months of the last 12 months"

CHURN_FEATURES = (
    "days_since_last",
    "tenure_days",
    "orders_90",
    "orders_365",
    "log_revenue_365",
    "active_months_365",
    "contacts_90",
    "customer_started_90",
    "tracked_events_90",
)


@dataclass
class Behaviour:
    """Sparse per-customer figures: `values[key][name]`; a missing name reads as zero."""

    at: dt.datetime
    values: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    last_order_at: dict[str, dt.datetime] = field(default_factory=dict)
    months: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, name: str, value: float) -> None:
        row = self.values[key]
        row[name] = row.get(name, 0.0) + value

    def get(self, key: str, name: str, default: float = 0.0) -> float:
        return self.values.get(key, {}).get(name, default)

    def keys(self) -> set[str]:
        return set(self.values)

    def contract_keys(self, min_months: int = CONTRACT_MIN_MONTHS) -> set[str]:
        return {key for key, months in self.months.items() if months >= min_months}

    def churn_row(self, key: str) -> list[float]:
        """The churn model's features for one customer, in `CHURN_FEATURES` order."""
        last = self.last_order_at.get(key)
        first_days = self.get(key, "first_order_days", 0.0)
        return [
            (self.at - last) / DAY if last else 3650.0,
            first_days,
            self.get(key, "orders_90"),
            self.get(key, "orders_365"),
            math.log1p(max(0.0, self.get(key, "revenue_365"))),
            float(self.months.get(key, 0)),
            self.get(key, "contacts_90"),
            self.get(key, "customer_started_90"),
            self.get(key, "tracked_events_90"),
        ]


def _key(account_id: int | None, person_id: int | None) -> str | None:
    if account_id is None and person_id is None:
        return None
    return purchase_history.customer_key(account_id=account_id, person_id=person_id)


def _window(field_name: str, at: dt.datetime, days: int) -> Q:
    return Q(**{f"{field_name}__gt": at - days * DAY, f"{field_name}__lte": at})


def _orders(b: Behaviour) -> None:
    at = b.at
    purchases = Order.objects.exclude(status__in=purchase_history.NOT_PURCHASES).filter(ordered_at__lte=at)
    rows = (
        purchases.order_by()
        .values("buyer_account_id", "buyer_person_id")
        .annotate(
            last=Max("ordered_at"),
            first=Min("ordered_at"),
            n90=Count("id", filter=_window("ordered_at", at, 90)),
            n365=Count("id", filter=_window("ordered_at", at, 365)),
            revenue=Sum("total_amount", filter=_window("ordered_at", at, 365)),
        )
    )
    first: dict[str, dt.datetime] = {}
    for row in rows:
        key = _key(row["buyer_account_id"], row["buyer_person_id"])
        if key is None:
            continue
        b.add(key, "orders_90", row["n90"])
        b.add(key, "orders_365", row["n365"])
        b.add(key, "revenue_365", float(row["revenue"] or 0))
        if key not in b.last_order_at or row["last"] > b.last_order_at[key]:
            b.last_order_at[key] = row["last"]
        if key not in first or row["first"] < first[key]:
            first[key] = row["first"]
    for key, when in first.items():
        b.values[key]["first_order_days"] = (at - when) / DAY
    months: dict[str, set[Any]] = defaultdict(set)
    month_rows = (
        purchases.filter(_window("ordered_at", at, 365))
        .annotate(month=TruncMonth("ordered_at"))
        .order_by()
        .values_list("buyer_account_id", "buyer_person_id", "month")
        .distinct()
    )
    for account_id, person_id, month in month_rows:
        key = _key(account_id, person_id)
        if key is not None:
            months[key].add(month)
    b.months = {key: len(found) for key, found in months.items()}
    products: dict[str, set[int]] = defaultdict(set)
    product_rows = (
        OrderLine.objects.filter(order__in=purchases.filter(_window("ordered_at", at, 365)), product__isnull=False)
        .order_by()
        .values_list("order__buyer_account_id", "order__buyer_person_id", "product_id")
        .distinct()
    )
    for account_id, person_id, product_id in product_rows:
        key = _key(account_id, person_id)
        if key is not None:
            products[key].add(product_id)
    for key, found in products.items():
        b.add(key, "products_365", len(found))


def _activities(b: Behaviour) -> None:
    at = b.at
    by_customer = Q(initiated_by=Initiator.CUSTOMER)
    rows = (
        Activity.objects.filter(_window("occurred_at", at, 365))
        .exclude(kind=ActivityKind.NOTE)
        .order_by()
        .values("account_id", "person_id")
        .annotate(
            contacts_90=Count("id", filter=_window("occurred_at", at, 90)),
            started_90=Count("id", filter=by_customer & _window("occurred_at", at, 90)),
            started_365=Count("id", filter=by_customer),
            prompt_365=Count(
                "id",
                filter=by_customer & Q(answered_at__isnull=False, answered_at__lte=F("occurred_at") + PROMPT_ANSWER),
            ),
            meetings_365=Count("id", filter=Q(kind__in=(ActivityKind.MEETING, ActivityKind.VISIT))),
        )
    )
    for row in rows:
        key = _key(row["account_id"], row["person_id"])
        if key is None:
            continue
        b.add(key, "contacts_90", row["contacts_90"])
        b.add(key, "customer_started_90", row["started_90"])
        b.add(key, "customer_started_365", row["started_365"])
        b.add(key, "answered_promptly_365", row["prompt_365"])
        b.add(key, "meetings_365", row["meetings_365"])


def _profile_person(identifier_type: str, column: str) -> Subquery:
    return Subquery(
        Identifier.objects.filter(type=identifier_type, value=OuterRef(column)).values("profile__person_id")[:1]
    )


def _events(b: Behaviour) -> None:
    at = b.at
    share = Q()
    for word in SHARE_WORDS:
        share |= Q(event__icontains=word)
    review = Q()
    for word in REVIEW_WORDS:
        review |= Q(event__icontains=word)
    rows = (
        LandedEvent.objects.filter(_window("timestamp", at, 365))
        .annotate(
            who=Coalesce(
                _profile_person(IdentifierType.ANONYMOUS_ID, "anonymous_id"),
                _profile_person(IdentifierType.USER_ID, "user_id"),
            )
        )
        .filter(who__isnull=False)
        .order_by()
        .values("who")
        .annotate(
            events_90=Count("id", filter=_window("timestamp", at, 90)),
            days_90=Count(TruncDate("timestamp"), filter=_window("timestamp", at, 90), distinct=True),
            recent_30=Count("id", filter=_window("timestamp", at, 30)),
            prior_90=Count("id", filter=Q(timestamp__gt=at - 120 * DAY, timestamp__lte=at - 30 * DAY)),
            shares=Count("id", filter=share),
            reviews=Count("id", filter=review),
        )
    )
    for row in rows:
        key = _key(None, row["who"])
        if key is None:
            continue
        b.add(key, "tracked_events_90", row["events_90"])
        b.add(key, "active_days_90", row["days_90"])
        b.add(key, "usage_recent_30", row["recent_30"])
        b.add(key, "usage_prior_90", row["prior_90"])
        b.add(key, "shares", row["shares"])
        b.add(key, "reviews", row["reviews"])


def _referrals(b: Behaviour) -> None:
    rows = (
        Lead.objects.filter(created_at__lte=b.at)
        .filter(Q(referred_by_account__isnull=False) | Q(referred_by_person__isnull=False))
        .order_by()
        .values("referred_by_account_id", "referred_by_person_id")
        .annotate(n=Count("id"), converted=Count("id", filter=Q(status=LeadStatus.CONVERTED)))
    )
    for row in rows:
        key = _key(row["referred_by_account_id"], row["referred_by_person_id"])
        if key is not None:
            b.add(key, "referrals", row["n"])
            b.add(key, "referrals_converted", row["converted"])


def collect(at: dt.datetime) -> Behaviour:
    """Everything the scores need about each customer as of `at` (orders, contacts, events, referrals)."""
    b = Behaviour(at=at)
    _orders(b)
    _activities(b)
    _events(b)
    _referrals(b)
    return b


def engagement_columns(b: Behaviour, keys: list[str]) -> dict[str, list[float]]:
    """The engine's behaviour columns for `keys`; a share with nothing to share over is NaN."""
    names = (
        "tracked_events_90",
        "active_days_90",
        "orders_365",
        "products_365",
        "contacts_90",
        "customer_started_90",
        "meetings_365",
        "referrals",
        "referrals_converted",
        "shares",
        "reviews",
    )
    columns = {name: [b.get(key, name) for key in keys] for name in names}
    columns["answered_promptly_share"] = [
        b.get(key, "answered_promptly_365") / started if (started := b.get(key, "customer_started_365")) else math.nan
        for key in keys
    ]
    return columns


def add_health_inputs(b: Behaviour, keys: Iterable[str]) -> None:
    """Payments against due dates and open cases as of `b.at`, for the given customers only.

    Open cases: no service app exists yet, so an open case is an open task already past its
    due date (work promised to the customer and not done). When a ticket app arrives, count
    its open tickets here instead; nothing else changes.
    """
    wanted = set(keys)
    at = b.at
    due_orders = (
        Order.objects.exclude(status__in=purchase_history.NOT_PURCHASES)
        .filter(payment_due_date__isnull=False, payment_due_date__lt=at.date())
        .order_by()
        .values("id", "buyer_account_id", "buyer_person_id", "total_amount")
        .annotate(
            paid_by_due=Sum(
                "payments__amount",
                filter=Q(payments__paid_at__date__lte=F("payment_due_date"), payments__paid_at__lte=at),
            ),
            paid=Sum("payments__amount", filter=Q(payments__paid_at__lte=at)),
        )
    )
    for row in due_orders:
        key = _key(row["buyer_account_id"], row["buyer_person_id"])
        if key not in wanted or key is None:
            continue
        total: Decimal = row["total_amount"]
        b.add(key, "due_orders", 1)
        b.add(key, "paid_on_time", 1 if (row["paid_by_due"] or 0) >= total else 0)
        b.add(key, "overdue_unpaid", 1 if (row["paid"] or 0) < total else 0)
    tasks = (
        Task.objects.filter(status=TaskStatus.OPEN, due_at__lt=at)
        .order_by()
        .values("account_id", "person_id")
        .annotate(n=Count("id"))
    )
    for task in tasks:
        key = _key(task["account_id"], task["person_id"])
        if key in wanted and key is not None:
            b.add(key, "open_cases", task["n"])
