"""Demo analytics: scores, stages, rules and next offers over the demo customers.

Analytics has nothing to show without purchases. If the database holds no orders yet (the
commerce demo did not run), a believable purchase history is drawn here for some of the demo
contacts: first purchases spread over the last two years, repeat purchases and dropouts from a
BG/NBD model with typical parameters, and baskets built from product bundles so that "what
sells together" finds rules. Some demo accounts get a year or two of monthly orders with
due dates and payments (contract customers, some of whom stop), for the churn model and
account health. Then one scoring run and one rules run, as the system.

Deterministic for a seed; runs again without error (existing demo orders are not duplicated,
and each call adds one pair of runs).
"""

import datetime as dt
import random
from decimal import Decimal

import numpy as np
from django.db import transaction
from django.utils import timezone

from guanxi.analytics import services
from guanxi.commerce import purchase_history
from guanxi.commerce.models import Order, OrderLine, OrderStatus, Payment, Product
from guanxi.customers.models import Account, Person
from guanxi.engine.bgnbd import BgNbdParams
from guanxi.engine.synthetic import simulate_bgnbd

BUYERS = {"small": 600, "large": 20_000}

CATALOGUE = (
    ("AN-TEA-LJ", "Longjing green tea 250 g", "168.00"),
    ("AN-TEA-PE", "Pu-erh cake 357 g", "298.00"),
    ("AN-TEA-OO", "Tieguanyin oolong 250 g", "188.00"),
    ("AN-CUP-SET", "Celadon tea cup set", "260.00"),
    ("AN-POT-YX", "Yixing clay teapot", "580.00"),
    ("AN-TRAY", "Bamboo tea tray", "220.00"),
    ("AN-KETTLE", "Electric gooseneck kettle", "399.00"),
    ("AN-HONEY", "Wildflower honey 500 g", "88.00"),
    ("AN-SNACK", "Osmanthus cakes (box)", "58.00"),
    ("AN-GIFT", "Festival gift box", "128.00"),
)

# Bundles people actually buy together, with a weight; a basket is one bundle, sometimes
# with one extra product.
BUNDLES = (
    (("AN-TEA-LJ", "AN-CUP-SET"), 6),
    (("AN-TEA-PE", "AN-POT-YX"), 4),
    (("AN-TEA-PE", "AN-POT-YX", "AN-TRAY"), 2),
    (("AN-TEA-OO", "AN-KETTLE"), 3),
    (("AN-TEA-LJ", "AN-HONEY"), 3),
    (("AN-SNACK", "AN-GIFT"), 3),
    (("AN-TEA-LJ",), 5),
    (("AN-TEA-OO",), 4),
    (("AN-TEA-PE",), 3),
)

PARAMS = BgNbdParams(r=0.6, alpha=60.0, a=0.8, b=2.5)
"""Purchases roughly every few months, a third dropping out after each purchase."""


def _products() -> dict[str, Product]:
    existing = {p.sku: p for p in Product.objects.filter(sku__in=[sku for sku, _n, _p in CATALOGUE])}
    missing = [
        Product(sku=sku, name=name, unit_price=Decimal(price)) for sku, name, price in CATALOGUE if sku not in existing
    ]
    Product.objects.bulk_create(missing)
    return {p.sku: p for p in Product.objects.filter(sku__in=[sku for sku, _n, _p in CATALOGUE])}


def _draw_orders(size: str, seed: int) -> tuple[int, int]:
    people = list(Person.objects.order_by("id").values_list("id", flat=True)[: BUYERS.get(size, BUYERS["small"])])
    if not people:
        return 0, 0
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)  # noqa: S311  -- demo data, not security
    now = timezone.now().replace(microsecond=0)
    horizon = 730
    first_days = rng.integers(0, horizon, size=len(people))
    ages = (horizon - first_days).astype(np.float64)
    frequency, recency, _alive = simulate_bgnbd(PARAMS, ages, rng)
    products = _products()
    bundles = [bundle for bundle, _w in BUNDLES]
    weights = [w for _b, w in BUNDLES]
    start = now - dt.timedelta(days=horizon)
    orders: list[Order] = []
    baskets: list[list[str]] = []
    for i, person_id in enumerate(people):
        first = start + dt.timedelta(days=int(first_days[i]), hours=pick.randint(8, 21))
        x, t_x = int(frequency[i]), float(recency[i])
        offsets = sorted([0.0, *(pick.uniform(0, t_x) for _ in range(max(0, x - 1)))] + ([t_x] if x else []))
        for k, offset in enumerate(offsets):
            basket = list(pick.choices(bundles, weights)[0])
            if pick.random() < 0.2:
                extra = pick.choice(CATALOGUE)[0]
                if extra not in basket:
                    basket.append(extra)
            total = sum((products[sku].unit_price for sku in basket), Decimal("0"))
            orders.append(
                Order(
                    number=f"AN-{seed}-{person_id}-{k}",
                    buyer_person_id=person_id,
                    ordered_at=first + dt.timedelta(days=offset),
                    status=OrderStatus.FULFILLED,
                    subtotal_amount=total,
                    total_amount=total,
                    paid_amount=total,
                )
            )
            baskets.append(basket)
    with transaction.atomic():
        Order.objects.bulk_create(orders, batch_size=2000)
        numbers = [o.number for o in orders]
        ids = dict(Order.objects.filter(number__in=numbers).values_list("number", "id"))
        lines = [
            OrderLine(
                order_id=ids[o.number],
                position=pos,
                product=products[sku],
                description=products[sku].name,
                unit_price=products[sku].unit_price,
                line_total=products[sku].unit_price,
            )
            for o, basket in zip(orders, baskets, strict=True)
            for pos, sku in enumerate(basket)
        ]
        OrderLine.objects.bulk_create(lines, batch_size=5000)
    return len(orders), len(lines)


CONTRACT_ACCOUNTS = {"small": 60, "large": 800}
CONTRACT_PREFIX = "AN-C-"


def _draw_contracts(size: str, seed: int) -> tuple[int, int]:
    """Monthly orders with due dates and payments for some accounts: the contract customers.

    About a third stop ordering at some month (they churned), most pay within the 30 days
    allowed, some late and a few not yet, so churn model and account health have something
    to learn and to say. Skipped when contract orders from an earlier call exist.
    """
    if Order.objects.filter(number__startswith=CONTRACT_PREFIX).exists():
        return 0, 0
    accounts = list(Account.objects.order_by("id").values_list("id", flat=True)[: CONTRACT_ACCOUNTS.get(size, 60)])
    if not accounts:
        return 0, 0
    pick = random.Random(seed + 1)  # noqa: S311  -- demo data, not security
    now = timezone.now().replace(microsecond=0)
    orders: list[Order] = []
    paid_at: list[dt.datetime | None] = []
    for account_id in accounts:
        months = pick.randint(6, 24)
        stop = pick.randint(2, months - 1) if pick.random() < 0.35 else months
        amount = Decimal(pick.choice(("1200.00", "2400.00", "3600.00", "6000.00")))
        for k in range(stop):
            ordered = now - dt.timedelta(days=30 * (months - k) - pick.randint(0, 5), hours=pick.randint(0, 8))
            due = ordered + dt.timedelta(days=30)
            roll = pick.random()
            when: dt.datetime | None = (
                ordered + dt.timedelta(days=pick.randint(3, 28))
                if roll < 0.8
                else ordered + dt.timedelta(days=pick.randint(31, 60))
                if roll < 0.95
                else None
            )
            if when is not None and when > now:
                when = None
            orders.append(
                Order(
                    number=f"{CONTRACT_PREFIX}{seed}-{account_id}-{k}",
                    buyer_account_id=account_id,
                    ordered_at=ordered,
                    payment_due_date=due.date(),
                    status=OrderStatus.CONFIRMED,
                    subtotal_amount=amount,
                    total_amount=amount,
                    paid_amount=amount if when is not None else Decimal("0"),
                )
            )
            paid_at.append(when)
    with transaction.atomic():
        Order.objects.bulk_create(orders, batch_size=2000)
        ids = dict(Order.objects.filter(number__startswith=CONTRACT_PREFIX).values_list("number", "id"))
        payments = [
            Payment(order_id=ids[o.number], amount=o.total_amount, paid_at=when, reference="demo")
            for o, when in zip(orders, paid_at, strict=True)
            if when is not None
        ]
        Payment.objects.bulk_create(payments, batch_size=2000)
    return len(orders), len(payments)


def load_demo(size: str = "small", seed: int = 7) -> dict[str, int]:
    """Demo purchases (only when there are none), contract customers' orders and payments (once),
    and one scoring and one rules run."""
    orders = lines = 0
    if not purchase_history.purchases().exists():
        orders, lines = _draw_orders(size, seed)
    contract_orders, payments = _draw_contracts(size, seed)
    scoring = services.run_scoring(None, seed=seed)
    rules = services.run_rules(None, seed=seed, min_support=0.005, min_confidence=0.1)
    return {
        "orders": orders,
        "order_lines": lines,
        "contract_orders": contract_orders,
        "payments": payments,
        "customers_scored": scoring.total,
        "rules": int(rules.quality.get("rules", 0)),
        "offers": int(rules.results.get("offers", 0)),
    }
