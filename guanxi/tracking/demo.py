"""Demo tracking data: a web-shop source with a tracking plan, anonymous visits (a few events each,
with device, place and campaign), some visitors signing in as demo contacts, all landed and
processed the way real events are (the landing and processing services), so sessions, computed
traits and the plan's data-quality report fill in.

Deterministic for a seed: message ids derive from it, so a second run stores nothing new.
"""

import datetime
import random
from typing import Any

from django.utils import timezone

from guanxi.customers.models import EmailAddress
from guanxi.staff.models import StaffRole, User
from guanxi.tracking import services
from guanxi.tracking.messages import clean_body
from guanxi.tracking.models import LandedEvent, Source

DEMO_SOURCE = "Web shop (demo)"
SIZES = {"small": (300, 1500), "medium": (2000, 15_000), "large": (20_000, 150_000)}
PAGES = [("Home", "/"), ("Tea", "/c/tea"), ("Porcelain", "/c/porcelain"), ("Silk", "/c/silk"), ("Cart", "/cart")]
PRODUCTS = [
    ("SKU-LJ-01", "西湖龙井 West Lake Longjing 250g", "Tea", 268.0),
    ("SKU-PE-02", "云南普洱 Pu'er cake 357g", "Tea", 188.0),
    ("SKU-CI-03", "景德镇青花瓷盖碗 Gaiwan", "Porcelain", 129.0),
    ("SKU-SI-04", "苏州真丝围巾 Silk scarf", "Silk", 399.0),
    ("SKU-TI-05", "铁观音 Tieguanyin 200g", "Tea", 156.0),
]


AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; HUAWEI P60) AppleWebKit/537.36 Chrome/125.0 Mobile Safari/537.36",
]
CITIES = [("Shanghai", "CN"), ("Beijing", "CN"), ("Hangzhou", "CN"), ("Shenzhen", "CN"), ("Singapore", "SG")]
CAMPAIGNS = [None, None, ("baidu", "cpc", "spring-tea"), ("wechat", "social", "618"), ("newsletter", "email", "may")]
# The demo source's tracking plan; "Product Added" is left out so its page shows unexpected events.
DEMO_PLAN: dict[str, Any] = {
    "events": [
        {
            "type": "track",
            "name": "Product Viewed",
            "properties": [
                {"name": "sku", "type": "string", "required": True},
                {"name": "name", "type": "string"},
                {"name": "category", "type": "string"},
                {"name": "price", "type": "number", "required": True},
                {"name": "currency", "type": "string"},
            ],
        },
        {
            "type": "track",
            "name": "Order Completed",
            "properties": [
                {"name": "order_id", "type": "string", "required": True},
                {"name": "revenue", "type": "number", "required": True},
                {"name": "currency", "type": "string"},
                {"name": "products", "type": "array"},
            ],
        },
        {"type": "track", "name": "Checkout Started", "properties": []},
    ]
}


def _visitor_context(rng: random.Random) -> dict[str, Any]:
    city, country = rng.choice(CITIES)
    context: dict[str, Any] = {
        "library": {"name": "analytics.js", "version": "5"},
        "locale": rng.choice(["zh-CN", "en-US"]),
        "userAgent": rng.choice(AGENTS),
        "location": {"city": city, "country": country},
        "ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
    }
    campaign = rng.choice(CAMPAIGNS)
    if campaign:
        context["campaign"] = {"source": campaign[0], "medium": campaign[1], "name": campaign[2]}
    return context


def _message(
    rng: random.Random,
    kind: str,
    anonymous_id: str,
    at: datetime.datetime,
    n: int,
    seed: int,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "messageId": f"demo-{seed}-{n}",
        "anonymousId": anonymous_id,
        "timestamp": at.isoformat(),
        "context": context or {"library": {"name": "guanxi-demo", "version": "1"}, "locale": "zh-CN"},
    }
    if kind == "page":
        name, path = rng.choice(PAGES)
        page = {"path": path, "url": f"https://shop.example{path}", "referrer": "https://www.baidu.com/"}
        return {**base, "type": "page", "name": name, "properties": page, "context": {**base["context"], "page": page}}
    sku, title, category, price = rng.choice(PRODUCTS)
    event = rng.choices(["Product Viewed", "Product Added", "Order Completed"], weights=[12, 3, 1])[0]
    if event == "Order Completed":
        quantity = rng.randint(1, 3)
        properties = {
            "order_id": f"demo-order-{seed}-{n}",
            "revenue": round(price * quantity, 2),
            "currency": "CNY",
            "products": [{"sku": sku, "category": category, "price": price, "quantity": quantity}],
        }
        return {**base, "type": "track", "event": event, "properties": properties}
    return {
        **base,
        "type": "track",
        "event": event,
        "properties": {"sku": sku, "name": title, "category": category, "price": price, "currency": "CNY"},
    }


def load_demo(size: str = "small", seed: int = 7) -> dict[str, int]:
    """Build the demo source and its events, then process them; returns counts by kind."""
    admin = User.objects.filter(username="admin").first() or User.objects.filter(role=StaffRole.ADMIN).first()
    if admin is None:
        return {"sources": 0, "events": 0, "processed": 0}
    source = Source.objects.filter(name=DEMO_SOURCE).first()
    created = 0
    if source is None:
        source, _key = services.create_source(admin, {"name": DEMO_SOURCE})
        services.save_tracking_plan(admin, source, DEMO_PLAN)
        created = 1
    if LandedEvent.objects.filter(source=source).exists():
        return {"sources": created, "events": 0, "processed": 0}
    visitors, events = SIZES.get(size, SIZES["small"])
    rng = random.Random(seed)  # noqa: S311  -- demo data must be reproducible, not secret
    now = timezone.now()
    emails = list(EmailAddress.objects.order_by("id").values_list("person_id", "address")[: max(visitors // 10, 1)])
    messages: list[dict[str, Any]] = []
    anonymous_ids = [f"demo-anon-{seed}-{v}" for v in range(visitors)]
    contexts = [_visitor_context(rng) for _v in range(visitors)]
    n = 0
    while n < events:
        # A visit: a few events minutes apart, so the visitor pages show believable sessions.
        visitor = rng.randrange(visitors)
        at = now - datetime.timedelta(minutes=rng.randint(1, 30 * 24 * 60))
        for _step in range(min(rng.randint(1, 6), events - n)):
            kind = rng.choice(["page", "track"])
            messages.append(_message(rng, kind, anonymous_ids[visitor], at, n, seed, contexts[visitor]))
            at += datetime.timedelta(minutes=rng.randint(1, 12))
            n += 1
    for index, (person_id, address) in enumerate(emails):
        messages.append(
            {
                "type": "identify",
                "messageId": f"demo-{seed}-identify-{index}",
                "userId": f"demo-user-{person_id}",
                "anonymousId": anonymous_ids[index],
                "traits": {"email": address},
                "timestamp": (now - datetime.timedelta(minutes=rng.randint(1, 60))).isoformat(),
            }
        )
    messages.sort(key=lambda m: m["timestamp"])
    stored = 0
    for start in range(0, len(messages), 500):
        received_at = timezone.now()
        clean, _errors = clean_body({"batch": messages[start : start + 500]}, endpoint="batch", received_at=received_at)
        stored += services.land_messages(source, clean, received_at).stored
    processed = services.process_landed_events()["processed"]
    return {"sources": created, "events": stored, "processed": processed}
