"""Demo data for commerce: a small tea-and-teaware catalogue in four categories, a CNY and a USD
price list, and a few thousand orders over the past two years for the demo people and accounts,
most of them paid.

Some lines are used by someone other than the buyer: where the demo customers hold a "buys for"
relationship (a parent buying for a child), part of that person's orders name the other person as
the line's user (使用人). Rows are written with `bulk_create`; numbers come from the same counter
the services use, so orders taken later continue the sequence. Field-level history is not
written: demo rows have no "created" event.
"""

import datetime
import random
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

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
    ProductCategory,
)
from guanxi.commerce.services.common import reserve_order_numbers
from guanxi.commerce.services.orders import WON_STATUSES
from guanxi.customers import services as customer_services
from guanxi.customers.models import Account, AccountKind, Person, Relationship, RelationshipKind

SIZES = {"small": 3_000, "large": 50_000}
BATCH = 2_000
USD_RATE = Decimal("0.14")
CENT = Decimal("0.01")

#: (category, [(sku, name, unit, unit price in CNY, unit cost)])
CATALOGUE: list[tuple[str, list[tuple[str, str, str, str, str]]]] = [
    (
        "茶叶 Tea",
        [
            ("TEA-LJ-250", "西湖龙井 Longjing 250g", "罐", "368.00", "190.00"),
            ("TEA-TGY-250", "安溪铁观音 Tieguanyin 250g", "罐", "268.00", "120.00"),
            ("TEA-DHP-200", "武夷大红袍 Da Hong Pao 200g", "盒", "458.00", "230.00"),
            ("TEA-PE-357", "云南普洱饼 Pu'er cake 357g", "饼", "598.00", "260.00"),
            ("TEA-BLC-100", "碧螺春 Biluochun 100g", "袋", "188.00", "80.00"),
            ("TEA-JAS-250", "茉莉花茶 Jasmine 250g", "罐", "98.00", "35.00"),
            ("TEA-BY-150", "白毫银针 Silver Needle 150g", "盒", "520.00", "240.00"),
        ],
    ),
    (
        "茶具 Teaware",
        [
            ("WARE-YX-POT", "宜兴紫砂壶 Yixing teapot", "把", "880.00", "350.00"),
            ("WARE-GW-SET", "盖碗套装 Gaiwan set", "套", "260.00", "90.00"),
            ("WARE-CUP-6", "青瓷品茗杯 Celadon cups ×6", "套", "168.00", "60.00"),
            ("WARE-TRAY", "竹茶盘 Bamboo tea tray", "个", "320.00", "130.00"),
            ("WARE-KETTLE", "电陶炉烧水壶 Tea kettle", "台", "450.00", "210.00"),
        ],
    ),
    (
        "礼盒 Gift sets",
        [
            ("GIFT-MID", "中秋礼盒 Mid-Autumn gift box", "盒", "688.00", "300.00"),
            ("GIFT-SF", "春节礼盒 Spring Festival box", "盒", "888.00", "380.00"),
            ("GIFT-CORP", "企业定制礼盒 Corporate gift box", "盒", "1280.00", "520.00"),
        ],
    ),
    (
        "服务 Services",
        [
            ("SRV-CLASS", "茶艺课 Tea ceremony class", "课时", "300.00", "100.00"),
            ("SRV-TASTING", "品鉴会 Tasting event", "场", "3800.00", "1500.00"),
            ("SRV-SUB-M", "月度茶订阅 Monthly tea subscription", "月", "199.00", "90.00"),
        ],
    ),
]
CHANNELS = [(OrderChannel.DIRECT, 0.4), (OrderChannel.ONLINE_SHOP, 0.45), (OrderChannel.DISTRIBUTOR, 0.15)]
STATUSES = [
    (OrderStatus.FULFILLED, 0.72),
    (OrderStatus.CONFIRMED, 0.12),
    (OrderStatus.PENDING, 0.05),
    (OrderStatus.CANCELLED, 0.07),
    (OrderStatus.RETURNED, 0.04),
]
METHODS = [PaymentMethod.ALIPAY, PaymentMethod.WECHAT_PAY, PaymentMethod.BANK_TRANSFER, PaymentMethod.CARD]


@contextmanager
def keep_timestamps() -> Iterator[None]:
    """Let bulk_create store the generated dates instead of "now" for the auto_now(_add) fields."""
    fields: list[Any] = [Order._meta.get_field(n) for n in ("created_at", "updated_at")]
    fields.append(Payment._meta.get_field("created_at"))
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for f, _now, _add in saved:
        f.auto_now = False
        f.auto_now_add = False
    try:
        yield
    finally:
        for f, now, add in saved:
            f.auto_now = now
            f.auto_now_add = add


def ensure_catalogue() -> tuple[list[Product], PriceList, PriceList]:
    """Categories, products and the two price lists, created once (matched by name and SKU)."""
    products: list[Product] = []
    for category_name, items in CATALOGUE:
        category, _created = ProductCategory.objects.get_or_create(name=category_name)
        existing = {p.sku: p for p in Product.objects.filter(sku__in=[sku for sku, *_rest in items])}
        new = [
            Product(
                sku=sku,
                name=name,
                unit=unit,
                unit_price=Decimal(price),
                unit_cost=Decimal(cost),
                currency="CNY",
                category=category,
            )
            for sku, name, unit, price, cost in items
            if sku not in existing
        ]
        Product.objects.bulk_create(new)
        products.extend(existing.values())
        products.extend(new)
    cny, _created = PriceList.objects.get_or_create(
        name="标准价 Standard CNY", defaults={"currency": "CNY", "is_default": True}
    )
    usd, _created = PriceList.objects.get_or_create(name="Export USD", defaults={"currency": "USD", "is_default": True})
    have = set(PriceListItem.objects.filter(price_list__in=[cny, usd]).values_list("price_list_id", "product_id"))
    price_items: list[PriceListItem] = []
    for product in products:
        if (cny.pk, product.pk) not in have:
            # The list gives 5% off the catalogue price for tea, the product's own price otherwise.
            factor = Decimal("0.95") if product.sku.startswith("TEA") else Decimal(1)
            price_items.append(
                PriceListItem(price_list=cny, product=product, unit_price=(product.unit_price * factor).quantize(CENT))
            )
        if (usd.pk, product.pk) not in have:
            price_items.append(
                PriceListItem(
                    price_list=usd, product=product, unit_price=(product.unit_price * USD_RATE).quantize(CENT)
                )
            )
    PriceListItem.objects.bulk_create(price_items)
    return products, cny, usd


def _pick[T](rng: random.Random, weighted: list[tuple[T, float]]) -> T:
    return rng.choices([value for value, _w in weighted], weights=[w for _v, w in weighted])[0]


def load_demo(size: str = "small", seed: int = 7) -> dict[str, int]:
    """The catalogue and, when no orders exist yet, the demo orders with their lines and payments."""
    with transaction.atomic():
        products, cny, usd = ensure_catalogue()
    counts = {"products": len(products), "price_lists": 2, "orders": 0, "order_lines": 0, "payments": 0}
    if Order.objects.exists():
        return counts
    person_ids = list(Person.objects.order_by("id").values_list("pk", flat=True)[:5_000])
    account_ids = list(
        Account.objects.exclude(kind=AccountKind.COMPETITOR).order_by("id").values_list("pk", flat=True)[:2_000]
    )
    if not person_ids and not account_ids:
        return counts
    buys_for: dict[int, list[int]] = {}
    for buyer, user in Relationship.objects.filter(
        kind=RelationshipKind.BUYS_FOR, from_person__isnull=False, to_person__isnull=False
    ).values_list("from_person_id", "to_person_id")[:20_000]:
        if buyer is not None and user is not None:
            buys_for.setdefault(buyer, []).append(user)
    # Buyers with someone to buy for order more often, so the demo shows the buyer-vs-user pages.
    family_buyers = [pk for pk in buys_for if pk in set(person_ids)] or []
    rng = random.Random(seed)  # noqa: S311  -- demo data, not secrets
    now = timezone.now()
    count = SIZES.get(size, SIZES["small"])
    prices = {
        (item.price_list_id, item.product_id): item.unit_price
        for item in PriceListItem.objects.filter(price_list__in=[cny, usd])
    }
    won_people: dict[int, datetime.datetime] = {}
    won_accounts: dict[int, datetime.datetime] = {}
    with keep_timestamps():
        for start in range(0, count, BATCH):
            size_here = min(BATCH, count - start)
            with transaction.atomic():
                numbers = reserve_order_numbers(size_here)
                orders: list[Order] = []
                order_lines: list[list[OrderLine]] = []
                for index in range(size_here):
                    ordered_at = now - datetime.timedelta(days=rng.uniform(0, 730), minutes=rng.randint(0, 1440))
                    buyer_person: int | None = None
                    buyer_account: int | None = None
                    roll = rng.random()
                    if account_ids and (roll < 0.3 or not person_ids):
                        buyer_account = rng.choice(account_ids)
                    elif family_buyers and roll < 0.45:
                        buyer_person = rng.choice(family_buyers)
                    else:
                        buyer_person = rng.choice(person_ids)
                    channel = _pick(rng, CHANNELS)
                    if buyer_account is not None and channel == OrderChannel.ONLINE_SHOP:
                        channel = OrderChannel.DIRECT
                    price_list = usd if buyer_account is not None and rng.random() < 0.1 else cny
                    lines: list[OrderLine] = []
                    subtotal = Decimal(0)
                    for position, product in enumerate(rng.sample(products, rng.randint(1, 4)), start=1):
                        quantity = Decimal(
                            rng.choice((1, 1, 1, 2, 2, 3, 5) if buyer_account is None else (5, 10, 20, 50))
                        )
                        unit_price = prices.get((price_list.pk, product.pk), product.unit_price)
                        discount = (
                            (unit_price * quantity * Decimal("0.1")).quantize(CENT)
                            if rng.random() < 0.1
                            else Decimal(0)
                        )
                        total = (unit_price * quantity).quantize(CENT) - discount
                        user_person = None
                        if buyer_person in buys_for and rng.random() < 0.6:
                            user_person = rng.choice(buys_for[buyer_person])
                        lines.append(
                            OrderLine(
                                position=position,
                                product=product,
                                description=product.name,
                                quantity=quantity,
                                unit_price=unit_price,
                                discount_amount=discount,
                                line_total=total,
                                user_person_id=user_person,
                            )
                        )
                        subtotal += total
                    status = _pick(rng, STATUSES)
                    if ordered_at > now - datetime.timedelta(days=14) and status == OrderStatus.FULFILLED:
                        status = OrderStatus.CONFIRMED
                    tax = (subtotal * Decimal("0.13")).quantize(CENT) if buyer_account is not None else Decimal(0)
                    orders.append(
                        Order(
                            number=numbers[index],
                            external_id=f"demo-shop-{start + index}" if channel == OrderChannel.ONLINE_SHOP else None,
                            buyer_account_id=buyer_account,
                            buyer_person_id=buyer_person,
                            channel=channel,
                            status=status,
                            currency=price_list.currency,
                            price_list=price_list,
                            ordered_at=ordered_at,
                            payment_due_date=(ordered_at + datetime.timedelta(days=30)).date()
                            if buyer_account is not None
                            else None,
                            subtotal_amount=subtotal,
                            tax_amount=tax,
                            total_amount=subtotal + tax,
                            created_at=ordered_at,
                            updated_at=ordered_at,
                        )
                    )
                    order_lines.append(lines)
                    if status in WON_STATUSES:
                        target, pk = (won_accounts, buyer_account) if buyer_account else (won_people, buyer_person)
                        if pk is not None and (pk not in target or target[pk] < ordered_at):
                            target[pk] = ordered_at
                saved = Order.objects.bulk_create(orders)
                all_lines = []
                payments = []
                for order, lines in zip(saved, order_lines, strict=True):
                    for line in lines:
                        line.order = order
                    all_lines.extend(lines)
                    if order.status in (OrderStatus.FULFILLED, OrderStatus.CONFIRMED, OrderStatus.RETURNED):
                        share = (
                            Decimal(1)
                            if order.status != OrderStatus.CONFIRMED or rng.random() < 0.5
                            else Decimal("0.3")
                        )
                        amount = (order.total_amount * share).quantize(CENT)
                        if amount > 0:
                            paid_at = order.ordered_at + datetime.timedelta(days=rng.randint(0, 20))
                            payments.append(
                                Payment(
                                    order=order,
                                    amount=amount,
                                    currency=order.currency,
                                    paid_at=min(paid_at, now),
                                    method=rng.choice(METHODS),
                                    reference=f"DEMO-{order.pk}",
                                    created_at=min(paid_at, now),
                                )
                            )
                            order.paid_amount = amount
                OrderLine.objects.bulk_create(all_lines, batch_size=BATCH)
                Payment.objects.bulk_create(payments, batch_size=BATCH)
                Order.objects.bulk_update([p.order for p in payments], ["paid_amount"], batch_size=500)
            counts["orders"] += len(saved)
            counts["order_lines"] += len(all_lines)
            counts["payments"] += len(payments)
    with transaction.atomic():
        _report_won(won_people, won_accounts)
    return counts


def _report_won(people: dict[int, datetime.datetime], accounts: dict[int, datetime.datetime]) -> None:
    """Tell customers when each buyer last bought (their reclaim rules read it), one UPDATE per day."""
    for model, latest in ((Person, people), (Account, accounts)):
        by_day: dict[datetime.datetime, list[int]] = {}
        for pk, at in latest.items():
            day = at.astimezone(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            by_day.setdefault(day, []).append(pk)
        for day, ids in by_day.items():
            if model is Person:
                customer_services.record_won_deal(Person, ids, day)
            else:
                customer_services.record_won_deal(Account, ids, day)
