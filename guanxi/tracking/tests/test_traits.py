"""Computed traits: kept current per batch, rebuilt from scratch, read per contact; the context readers."""

import datetime
from decimal import Decimal
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.customers.models import Person
from guanxi.staff.models import User
from guanxi.tracking import context, queries
from guanxi.tracking.models import ComputedTraits, Source
from guanxi.tracking.tests.test_processing import identify, land, process, profile_of
from guanxi.tracking.tests.test_sessions import IPHONE, T0, at, page

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)


def event(anonymous_id: str, name: str, minutes: float, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "anonymousId": anonymous_id,
        "event": name,
        "timestamp": at(minutes),
        "properties": properties,
        "context": {"library": {"name": "analytics.js"}, "userAgent": CHROME_WINDOWS, "ip": "10.1.1.1"},
    }


def shopper_events() -> list[dict[str, Any]]:
    return [
        page("a1", 0, userAgent=IPHONE, location={"city": "Hangzhou", "country": "CN"}),
        {**page("a1", 1), "properties": {"category": "Tea", "product_id": "P1"}},
        event("a1", "Product Viewed", 2, product_id="P1", category="Tea"),
        event("a1", "Product Viewed", 3, sku="S2", category="Porcelain"),
        event("a1", "Product Viewed", 4, product_id="P1"),
        event("a1", "Product Added", 5, product_id="P1"),
        event("a1", "Order Completed", 6, revenue=100.5, products=[{"product_id": "P1", "price": 50}]),
        event("a1", "Order Completed", 120, products=[{"price": "20", "quantity": 3}, {"price": 1.25}]),
        {
            "type": "track",
            "anonymousId": "a1",
            "event": "Refund Issued",
            "timestamp": at(121),
            "context": {"library": {"name": "analytics-python"}},
        },
    ]


def test_traits_add_up_a_profiles_events(source: Source) -> None:
    land(source, *shopper_events())
    process()
    traits = ComputedTraits.objects.get(profile=profile_of("anonymous_id", "a1"))
    assert traits.event_count == 9
    assert traits.session_count == 2
    assert traits.page_views == 2
    assert traits.product_views == 4  # three Product Viewed, one product page
    assert traits.products == {"P1": 3, "S2": 1}
    assert traits.categories == {"Tea": 2, "Porcelain": 1}
    assert traits.top_products() == [("P1", 3), ("S2", 1)]
    assert traits.order_count == 2
    assert traits.revenue == Decimal("161.75")  # 100.50 + 3 × 20 + 1.25
    assert traits.last_order_at == datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.UTC)
    assert traits.channels == ["server", "web"]
    # The newest event with a device or a place: the Order Completed at minute 120 (Chrome on Windows).
    assert (traits.device, traits.os, traits.browser) == ("desktop", "Windows", "Chrome")
    assert traits.location == "10.1.1.1"  # the newest event naming a place gave only its IP


def test_traits_grow_incrementally_and_a_rebuild_gives_the_same(source: Source) -> None:
    events = shopper_events()
    land(source, *events[:4])
    process()
    land(source, *events[4:])
    process()
    profile = profile_of("anonymous_id", "a1")
    incremental = ComputedTraits.objects.get(profile=profile)
    fields = ["event_count", "session_count", "page_views", "product_views", "products", "categories"]
    fields += ["order_count", "revenue", "last_order_at", "channels", "device", "os", "browser", "location"]
    before = {name: getattr(incremental, name) for name in fields}
    ComputedTraits.objects.all().delete()
    out = StringIO()
    call_command("process_events", "--rebuild-traits", stdout=out)
    assert out.getvalue().strip() == "rebuilt the computed traits of 1 profiles"
    rebuilt = ComputedTraits.objects.get(profile=profile)
    assert {name: getattr(rebuilt, name) for name in fields} == before
    assert before["event_count"] == 9


def test_a_late_event_does_not_overwrite_a_newer_device(source: Source) -> None:
    land(source, event("a1", "Product Viewed", 60, sku="S1"))
    process()
    land(source, page("a1", 0, userAgent=IPHONE))
    process()
    traits = ComputedTraits.objects.get(profile=profile_of("anonymous_id", "a1"))
    assert (traits.device, traits.os, traits.browser) == ("desktop", "Windows", "Chrome")
    assert traits.event_count == 2


def test_contact_traits_add_up_their_visible_profiles(source: Source, admin_user: User, rep: User) -> None:
    land(source, identify("u1", "a1", email="ann@example.com"), *shopper_events()[:3])
    process()
    person = Person.objects.get()
    total, profiles = queries.person_traits(admin_user, person)
    assert profiles == 1
    assert total is not None
    assert (total.event_count, total.product_views, total.products) == (4, 2, {"P1": 2})
    first_seen, _last_seen = queries.person_seen(admin_user, person)
    assert first_seen == T0
    assert queries.person_traits(rep, person)[1] == 1  # a tracked contact without owner is in the pool


def test_context_readers() -> None:
    assert context.parse_user_agent("") == ("", "", "")
    assert context.parse_user_agent("Googlebot/2.1") == ("bot", "", "")
    ipad = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Safari/604.1"
    assert context.parse_user_agent(ipad) == ("tablet", "iOS", "Safari")
    wechat = (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126 Mobile Safari/537.36 MicroMessenger/8.0"
    )
    assert context.parse_user_agent(wechat) == ("mobile", "Android", "WeChat")
    app = {
        "context": {
            "app": {"name": "Shop"},
            "device": {"manufacturer": "Apple", "model": "iPhone15,2"},
            "os": {"name": "iOS", "version": "17.1"},
        }
    }
    assert context.channel(app) == "app"
    assert context.device_of(app) == ("Apple iPhone15,2", "iOS 17.1", "")
    assert context.channel({"type": "track", "context": {"library": {"name": "analytics-node"}}}) == "server"
    assert context.channel({"type": "screen"}) == "app"
    assert context.location_of({"context": {"location": {"city": "上海"}, "ip": "1.2.3.4"}}) == ("上海", "1.2.3.4")
    assert context.order_revenue({"properties": {"total": "12.345"}}) == Decimal("12.35")
    assert context.order_revenue({"properties": {"revenue": "NaN"}}) == Decimal("0.00")
    assert context.order_revenue({"properties": {"revenue": True}}) == Decimal("0.00")
    assert context.products_of({"properties": {"products": [{"sku": "A"}, "junk", {"category": "Tea"}]}}) == [
        ("A", ""),
        ("", "Tea"),
    ]
    assert context.campaign_of({"context": {"campaign": {"source": "wx", "medium": "social", "name": "618"}}}) == (
        "wx",
        "social",
        "618",
    )


def test_context_readers_cached_paths() -> None:
    """A context naming only a user agent and a library name take short, cached paths
    (`parse_user_agent`, `_library_kind`); they give what the general paths give."""
    for _ in range(2):  # the second time from the caches
        assert context.device_of({"context": {"userAgent": f"  {IPHONE} "}}) == ("mobile", "iOS", "Safari")
        assert context.device_of(
            {"context": {"userAgent": CHROME_WINDOWS, "os": {"name": "Windows", "version": 11}}}
        ) == (
            "desktop",
            "Windows 11",
            "Chrome",
        )
        assert context.device_of({"context": {"userAgent": CHROME_WINDOWS, "device": None}}) == (
            "desktop",
            "Windows",
            "Chrome",
        )
        assert context.device_of({"context": {"userAgent": 42}}) == ("desktop", "", "")
        assert context.device_of({"context": {"userAgent": "x" * 2000}}) == ("desktop", "", "")
        assert context.device_of({"context": {}}) == ("", "", "")
        assert context.channel({"context": {"library": {"name": " Analytics-iOS "}}}) == "app"
        assert context.channel({"context": {"library": {"name": "widget.JS"}}}) == "web"
        assert context.channel({"context": {"library": {"name": "x" * 100 + ".js"}}}) == "server"  # cut at 100
        assert context.channel({"context": {"library": {"name": 7}}}) == "server"
        assert context.channel({"context": {"library": {"name": True}}, "type": "page"}) == "web"
        assert context.location_of({"context": {"location": {"city": " 杭州 ", "country": 86}}}) == ("杭州, 86", "")


def test_location_readers() -> None:
    assert context.location_of({"context": {"ip": " 10.0.0.1 "}}) == ("", "10.0.0.1")
    assert context.location_of({"context": {"ip": 7}}) == ("", "7")
    assert context.location_of({"context": {"location": None, "ip": "10.0.0.1"}}) == ("", "10.0.0.1")
    assert context.location_of({"context": {"location": {"region": "浙江", "country": "CN"}}}) == ("浙江, CN", "")
    assert context.location_of({"context": "junk"}) == ("", "")
    assert context.location_of({}) == ("", "")


def traits_updates() -> list[str]:
    """Process what is landed; the UPDATE statements of computed traits it ran."""
    with CaptureQueriesContext(connection) as queries_run:
        process()
    return [q["sql"] for q in queries_run.captured_queries if q["sql"].startswith('UPDATE "tracking_computedtraits"')]


def test_a_batch_without_products_keeps_the_stored_ones_and_agrees_with_a_rebuild(source: Source) -> None:
    """Rows whose delta views no product are updated without their products and categories
    (neither decoded nor sent back); the others with them."""
    events = shopper_events()
    land(source, *events[:4])
    process()
    land(source, page("a1", 30), events[6])  # a page without a product, an order
    with CaptureQueriesContext(connection) as queries_run:
        process()
    updates = [
        q["sql"] for q in queries_run.captured_queries if q["sql"].startswith('UPDATE "tracking_computedtraits"')
    ]
    assert len(updates) == 1
    assert '"products"' not in updates[0]
    assert '"event_count"' in updates[0]
    profile = profile_of("anonymous_id", "a1")
    traits = ComputedTraits.objects.get(profile=profile)
    assert (traits.products, traits.categories) == ({"P1": 2, "S2": 1}, {"Tea": 2, "Porcelain": 1})
    assert (traits.event_count, traits.page_views, traits.product_views) == (6, 3, 3)
    assert (traits.order_count, traits.revenue, traits.channels) == (1, Decimal("100.50"), ["web"])
    fields = ["event_count", "session_count", "page_views", "product_views", "products", "categories"]
    fields += ["order_count", "revenue", "last_order_at", "channels", "device", "os", "browser", "location"]
    before = {name: getattr(traits, name) for name in fields}
    land(source, event("a1", "Product Viewed", 40, product_id="P9", category="Tea"))
    with CaptureQueriesContext(connection) as queries_run:
        process()
    updates = [
        q["sql"] for q in queries_run.captured_queries if q["sql"].startswith('UPDATE "tracking_computedtraits"')
    ]
    assert len(updates) == 1
    assert '"products"' in updates[0]
    traits.refresh_from_db()
    assert (traits.products, traits.categories) == ({"P1": 2, "S2": 1, "P9": 1}, {"Tea": 3, "Porcelain": 1})
    after = {name: getattr(traits, name) for name in fields}
    assert after["event_count"] == before["event_count"] + 1
    ComputedTraits.objects.all().delete()
    call_command("process_events", "--rebuild-traits", stdout=StringIO())
    rebuilt = ComputedTraits.objects.get(profile=profile)
    assert {name: getattr(rebuilt, name) for name in fields} == after
