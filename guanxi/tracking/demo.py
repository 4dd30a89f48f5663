"""Demo tracking data: a web-shop source, anonymous browsing, some visitors signing in as demo
contacts, all landed and processed the way real events are (the landing and processing services).

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


def _message(
    rng: random.Random, kind: str, anonymous_id: str, at: datetime.datetime, n: int, seed: int
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "messageId": f"demo-{seed}-{n}",
        "anonymousId": anonymous_id,
        "timestamp": at.isoformat(),
        "context": {"library": {"name": "guanxi-demo", "version": "1"}, "locale": rng.choice(["zh-CN", "en-US"])},
    }
    if kind == "page":
        name, path = rng.choice(PAGES)
        return {**base, "type": "page", "name": name, "properties": {"path": path}}
    sku, title, category, price = rng.choice(PRODUCTS)
    event = rng.choices(["Product Viewed", "Product Added", "Order Completed"], weights=[12, 3, 1])[0]
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
        created = 1
    if LandedEvent.objects.filter(source=source).exists():
        return {"sources": created, "events": 0, "processed": 0}
    visitors, events = SIZES.get(size, SIZES["small"])
    rng = random.Random(seed)  # noqa: S311  -- demo data must be reproducible, not secret
    now = timezone.now()
    emails = list(EmailAddress.objects.order_by("id").values_list("person_id", "address")[: max(visitors // 10, 1)])
    messages: list[dict[str, Any]] = []
    anonymous_ids = [f"demo-anon-{seed}-{v}" for v in range(visitors)]
    for n in range(events):
        at = now - datetime.timedelta(minutes=rng.randint(1, 30 * 24 * 60))
        messages.append(_message(rng, rng.choice(["page", "track"]), rng.choice(anonymous_ids), at, n, seed))
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
