"""The reads behind a profitability run: a handful of grouped queries, one row per customer back.

Every sum is done by the database (`GROUP BY` buyer, `GROUP BY` customer and follow-up kind);
Python only joins the grouped rows by customer and applies the engine's arithmetic. No query
runs per customer, so the cost grows with the number of customers read, not with their orders.

Attribution, stated once: an order belongs to its buyer account when it has one, else to its
buyer person (a B2B order names both and must count once); a follow-up record likewise belongs
to its account when it names one, else to its person. Customers are the accounts (suppliers
and competitors excluded) and the people who are no contact at any account (individual
customers), plus any contact with orders or follow-ups of their own.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from guanxi.activities.models import Activity
from guanxi.commerce.models import Order, OrderLine, OrderStatus
from guanxi.customers.models import Account, AccountKind, Person, Role, Source
from guanxi.engine import profitability as engine
from guanxi.leads.models import Lead, LeadSource, LeadStatus
from guanxi.profitability.costs import CustomerKey, ticket_counts

NOT_COUNTED = (OrderStatus.CANCELLED, OrderStatus.RETURNED)
NOT_CUSTOMERS = (AccountKind.SUPPLIER, AccountKind.COMPETITOR)
ZERO = Decimal("0")

#: A customer's own `source` in the lead-source words acquisition costs are entered in.
PARTY_SOURCE_TO_LEAD_SOURCE: dict[str, str] = {
    Source.WEB: LeadSource.WEB_FORM,
    Source.TRACKING: LeadSource.WEB_FORM,
    Source.REFERRAL: LeadSource.REFERRAL,
    Source.TRADE_SHOW: LeadSource.TRADE_SHOW,
    Source.COLD_CALL: LeadSource.COLD_CALL,
    Source.CAMPAIGN: LeadSource.CAMPAIGN,
    Source.IMPORT: LeadSource.IMPORT,
    Source.API: LeadSource.API,
}


@dataclass
class Figures:
    orders: int = 0
    revenue: Decimal = ZERO
    discounts: Decimal = ZERO
    activities: dict[str, int] = field(default_factory=dict)
    tickets: int = 0


@dataclass(frozen=True, slots=True)
class CustomerRow:
    key: CustomerKey
    name: str
    source: str
    cohort: dt.date
    predicted_clv: Decimal | None
    figures: Figures


def _key(account_id: int | None, person_id: int | None) -> CustomerKey | None:
    if account_id is not None:
        return ("a", account_id)
    if person_id is not None:
        return ("p", person_id)
    return None


def figures_by_customer(currency: str) -> dict[CustomerKey, Figures]:
    """Orders, discounts, follow-ups and tickets per customer, in three grouped queries."""
    figures: dict[CustomerKey, Figures] = {}
    orders = (
        Order.objects.exclude(status__in=NOT_COUNTED)
        .filter(currency=currency)
        .values("buyer_account_id", "buyer_person_id")
        .annotate(n=Count("id"), subtotal=Sum("subtotal_amount"), order_discount=Sum("discount_amount"))
        .order_by()
        .values_list("buyer_account_id", "buyer_person_id", "n", "subtotal", "order_discount")
    )
    for account_id, person_id, n, subtotal, order_discount in orders:
        key = _key(account_id, person_id)
        if key is None:
            continue
        row = figures.setdefault(key, Figures())
        row.orders += n
        # The subtotal is after line discounts; adding them back gives the worth before any discount.
        row.revenue += subtotal or ZERO
        row.discounts += order_discount or ZERO
    lines = (
        OrderLine.objects.exclude(order__status__in=NOT_COUNTED)
        .filter(order__currency=currency, discount_amount__gt=0)
        .values("order__buyer_account_id", "order__buyer_person_id")
        .annotate(line_discount=Sum("discount_amount"))
        .order_by()
        .values_list("order__buyer_account_id", "order__buyer_person_id", "line_discount")
    )
    for account_id, person_id, line_discount in lines:
        key = _key(account_id, person_id)
        if key is None:
            continue
        row = figures.setdefault(key, Figures())
        row.revenue += line_discount or ZERO
        row.discounts += line_discount or ZERO
    activities = (
        Activity.objects.filter(Q(account__isnull=False) | Q(person__isnull=False))
        .values("account_id", "person_id", "kind")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("account_id", "person_id", "kind", "n")
    )
    for account_id, person_id, kind, n in activities:
        key = _key(account_id, person_id)
        if key is None:
            continue
        counts = figures.setdefault(key, Figures()).activities
        counts[kind] = counts.get(kind, 0) + n
    for key, n in ticket_counts().items():
        figures.setdefault(key, Figures()).tickets += n
    return figures


def _conversions() -> tuple[dict[int, tuple[str, dt.datetime]], dict[int, tuple[str, dt.datetime]]]:
    """Each converted account's and person's first lead: its source and when it was converted."""
    accounts: dict[int, tuple[str, dt.datetime]] = {}
    people: dict[int, tuple[str, dt.datetime]] = {}
    leads = (
        Lead.objects.filter(status=LeadStatus.CONVERTED, converted_at__isnull=False)
        .order_by("converted_at", "id")
        .values_list("converted_account_id", "converted_person_id", "source", "converted_at")
    )
    for account_id, person_id, source, converted_at in leads:
        if converted_at is None:  # excluded by the filter; keeps the types exact
            continue
        if account_id is not None:
            accounts.setdefault(account_id, (source, converted_at))
        if person_id is not None:
            people.setdefault(person_id, (source, converted_at))
    return accounts, people


def _acquisition(own_source: str, created_at: dt.datetime, lead: tuple[str, dt.datetime] | None) -> tuple[str, dt.date]:
    """Source and cohort month: the converted lead's, else the record's own source and creation."""
    if lead is not None:
        source, at = lead
    else:
        source, at = PARTY_SOURCE_TO_LEAD_SOURCE.get(own_source, str(LeadSource.OTHER)), created_at
    return str(source), engine.month_start(timezone.localdate(at) if timezone.is_aware(at) else at.date())


def customer_rows(currency: str, batch_size: int = 5000) -> Iterator[CustomerRow]:
    """Every customer with their figures, accounts first, in id order."""
    figures = figures_by_customer(currency)
    lead_accounts, lead_people = _conversions()
    accounts = Account.objects.exclude(kind__in=NOT_CUSTOMERS).order_by("pk")
    for pk, name, source, created_at, clv in accounts.values_list(
        "pk", "name", "source", "created_at", "predicted_clv"
    ).iterator(chunk_size=batch_size):
        key: CustomerKey = ("a", pk)
        src, cohort = _acquisition(source, created_at, lead_accounts.get(pk))
        yield CustomerRow(key, name, src, cohort, clv, figures.get(key) or Figures())
    people = (
        Person.objects.annotate(is_contact=Exists(Role.objects.filter(person=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", "full_name", "source", "created_at", "predicted_clv", "is_contact")
    )
    for pk, name, source, created_at, clv, is_contact in people.iterator(chunk_size=batch_size):
        key = ("p", pk)
        person_figures = figures.get(key)
        if is_contact and person_figures is None:
            continue
        src, cohort = _acquisition(source, created_at, lead_people.get(pk))
        yield CustomerRow(key, name, src, cohort, clv, person_figures or Figures())


def count_customers() -> int:
    """How many customers a run will read, for its progress bar (contacts without figures included)."""
    return Account.objects.exclude(kind__in=NOT_CUSTOMERS).count() + Person.objects.count()
