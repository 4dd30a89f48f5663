"""Reading what an event's payload says about where it came from: page, campaign, channel,
device, location, products and orders. Pure functions over the payload (no database), shared
by sessions, computed traits and their rebuild.

Fields follow the Segment spec: `context.page`, `context.campaign` (UTM), `context.library`,
`context.app`, `context.device`, `context.os`, `context.userAgent`, `context.location`,
`context.ip`; ecommerce events carry `product_id`, `sku`, `category`, and "Order Completed"
carries `revenue` or `total` (or its products' `price` × `quantity`).
"""

import functools
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

PRODUCT_EVENTS = frozenset({"Product Viewed", "Product Clicked", "Product Added"})
PRODUCT_VIEW_EVENT = "Product Viewed"
ORDER_EVENT = "Order Completed"
APP_LIBRARIES = ("analytics-ios", "analytics-android", "analytics-react-native", "analytics-flutter", "miniprogram")
WEB_LIBRARIES = ("analytics.js", "analytics-next", "guanxi.js", "guanxi-snippet")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int) -> str:
    if type(value) is str:  # most values: the general test below costs three times as much
        return value.strip()[:limit]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return str(value).strip()[:limit]


def context_of(payload: dict[str, Any]) -> dict[str, Any]:
    return _dict(payload.get("context"))


def channel(payload: dict[str, Any]) -> str:
    """web, app or server: an app context or a mobile library is an app, a page context or a
    browser library the web, anything else (the server SDKs, imports) a server."""
    context = context_of(payload)
    name = _dict(context.get("library")).get("name")
    app, web = _library_kind(name) if type(name) is str else _library_kind(_text(name, 100))
    if context.get("app") or app:
        return "app"
    if context.get("page") or web or payload.get("type") == "page":
        return "web"
    if payload.get("type") == "screen":
        return "app"
    return "server"


@functools.lru_cache(maxsize=1024)
def _library_kind(name: str) -> tuple[bool, bool]:
    """Whether a library name is a mobile one, and whether a browser one. Cached: a source sends
    a handful of names, and the tests below cost more than the rest of `channel`."""
    library = _text(name, 100).lower()
    return any(app in library for app in APP_LIBRARIES), library in WEB_LIBRARIES or library.endswith(".js")


def page_of(payload: dict[str, Any]) -> tuple[str, str]:
    """The page (URL, else path) and referrer of an event: `context.page`, else a page call's properties."""
    page = _dict(context_of(payload).get("page"))
    properties = _dict(payload.get("properties")) if payload.get("type") == "page" else {}
    url = _text(page.get("url") or properties.get("url") or page.get("path") or properties.get("path"), 500)
    referrer = _text(page.get("referrer") or properties.get("referrer"), 500)
    return url, referrer


def campaign_of(payload: dict[str, Any]) -> tuple[str, str, str]:
    """UTM source, medium and campaign name from `context.campaign`."""
    campaign = _dict(context_of(payload).get("campaign"))
    return (
        _text(campaign.get("source"), 100),
        _text(campaign.get("medium"), 100),
        _text(campaign.get("name") or campaign.get("campaign"), 100),
    )


# A few patterns, most specific first: enough to name the families people ask about. (No
# user-agent library is among the project's dependencies; this names families, not versions.)
_BROWSERS = (
    ("MicroMessenger", "WeChat"),
    ("Edg", "Edge"),
    ("OPR", "Opera"),
    ("Opera", "Opera"),
    ("Firefox", "Firefox"),
    ("Chrome", "Chrome"),
    ("CriOS", "Chrome"),
    ("Safari", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("Android", "Android"),
    ("HarmonyOS", "HarmonyOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
_MOBILE = re.compile(r"Mobi|iPhone|Android.*Mobile")
_TABLET = re.compile(r"iPad|Tablet|Android(?!.*Mobile)")
_BOT = re.compile(r"bot|crawl|spider|slurp", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def parse_user_agent(agent: str) -> tuple[str, str, str]:
    """(device type, operating system, browser) named from a user-agent string."""
    if not agent:
        return "", "", ""
    if _BOT.search(agent):
        return "bot", "", ""
    browser = next((name for token, name in _BROWSERS if token in agent), "")
    system = next((name for token, name in _SYSTEMS if token in agent), "")
    device = "mobile" if _MOBILE.search(agent) else "tablet" if _TABLET.search(agent) else "desktop"
    return device, system, browser


def device_of(payload: dict[str, Any]) -> tuple[str, str, str]:
    """(device, os, browser): `context.device` and `context.os` as sent, the user agent for the rest."""
    context = context_of(payload)
    ua_device, ua_os, ua_browser = parse_user_agent(_text(context.get("userAgent"), 1000))  # cached
    if "device" not in context and "os" not in context:  # most events: a browser's user agent only
        return ua_device[:100], ua_os[:100], ua_browser
    device_info, os_info = _dict(context.get("device")), _dict(context.get("os"))
    device = " ".join(
        part for part in (_text(device_info.get("manufacturer"), 40), _text(device_info.get("model"), 50)) if part
    )
    device = device or _text(device_info.get("type"), 100) or ua_device
    system = " ".join(part for part in (_text(os_info.get("name"), 50), _text(os_info.get("version"), 40)) if part)
    return device[:100], (system or ua_os)[:100], ua_browser


def location_of(payload: dict[str, Any]) -> tuple[str, str]:
    """("city, region, country" as `context.location` gives it, IP address)."""
    context = context_of(payload)
    if "location" not in context:  # most events name an IP only
        return "", _text(context.get("ip"), 64)
    place = _dict(context.get("location"))
    parts = [_text(place.get(key), 60) for key in ("city", "region", "country")]
    return ", ".join(part for part in parts if part)[:200], _text(context.get("ip"), 64)


def products_of(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(product, category) pairs an ecommerce event or a product page names: `product_id`, else `sku`."""
    properties = _dict(payload.get("properties"))
    items = [properties]
    if isinstance(properties.get("products"), list):
        items = [_dict(item) for item in properties["products"][:50]]
    found = []
    for item in items:
        product = _text(item.get("product_id") or item.get("sku"), 100)
        category = _text(item.get("category"), 100)
        if product or category:
            found.append((product, category))
    return found


CENT = Decimal("0.01")


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and abs(amount) < Decimal("1e12") else None


def order_revenue(payload: dict[str, Any]) -> Decimal:
    """An "Order Completed" event's revenue: `revenue`, else `total`, else Σ price × quantity."""
    properties = _dict(payload.get("properties"))
    for key in ("revenue", "total"):
        amount = _amount(properties.get(key))
        if amount is not None:
            return amount.quantize(CENT, rounding=ROUND_HALF_UP)
    total = Decimal(0)
    for item in properties.get("products") or []:
        item = _dict(item)
        price = _amount(item.get("price"))
        quantity = _amount(item.get("quantity", 1))
        if price is not None and quantity is not None:
            total += price * quantity
    return total.quantize(CENT, rounding=ROUND_HALF_UP)
