"""The web snippet in a real browser: Debian's chromium (Playwright) loads it from the live server
on a shop page, keeps its anonymous id in a first-party cookie across page loads, sends page,
track and identify, and after processing the visitor's anonymous history is on the contact's
timeline."""

import functools
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import URLPattern, include, path
from playwright.sync_api import Browser, sync_playwright

from guanxi.core.timeline import Filters, collect
from guanxi.staff.models import User
from guanxi.tracking import ingest_urls, services
from guanxi.tracking.models import Identifier, Source
from guanxi.tracking.tests.factories import SourceFactory, landed_events
from guanxi.urls import urlpatterns as site_urlpatterns

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
    pytest.mark.urls(__name__),
]

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]  # fmt: skip
WRITE_KEY: dict[str, str] = {}


def shop_page(request: HttpRequest, name: str) -> HttpResponse:
    """A customer's site page with the install code, as a site owner would paste it."""
    loader = render_to_string(
        "tracking/_snippet_loader.html",
        {"host": f"{request.scheme}://{request.get_host()}", "snippet_path": "/v1/guanxi.js",
         "write_key": WRITE_KEY["key"]},
    )  # fmt: skip
    return HttpResponse(f"<!doctype html><html><head><title>Shop {name}</title><script>{loader}</script></head>"
                        f"<body><h1>{name}</h1></body></html>")  # fmt: skip


# On SQLite the test database lives in memory, so the live server's request threads and this test
# share one connection. Two statements interleaved on it fail ("database table is locked" while a
# landing INSERT … RETURNING is open), so the ingestion views and the test's reads take turns. On
# PostgreSQL each thread has its own connection and the lock only orders them.
SHARED_CONNECTION = threading.Lock()


def one_at_a_time(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)  # keeps csrf_exempt and the other view flags
    def serialised(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with SHARED_CONNECTION:
            return view(request, *args, **kwargs)

    return serialised


def _serialised(pattern: URLPattern) -> URLPattern:
    return path(str(pattern.pattern), one_at_a_time(pattern.callback), name=pattern.name)


ingest_patterns = [_serialised(pattern) for pattern in ingest_urls.urlpatterns]
urlpatterns: list[Any] = [
    path("shop/<str:name>/", shop_page),
    path("v1/", include((ingest_patterns, ingest_urls.app_name))),
    *site_urlpatterns,
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=ARGS)
        yield browser
        browser.close()


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with SHARED_CONNECTION:
            if check():
                return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the events to land")


def test_snippet_tracks_a_visitor_and_joins_them_on_identify(
    transactional_db: None, live_server: Any, browser: Browser, admin_user: User
) -> None:
    source: Source = SourceFactory.create(name="Shop site")
    WRITE_KEY["key"] = str(source.write_key)  # type: ignore[attr-defined]  # set by SourceFactory
    context = browser.new_context(locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()

    page.goto(f"{live_server.url}/shop/home/")
    page.wait_for_function("window.guanxi && window.guanxi.initialized === true")
    page.evaluate("guanxi.track('Added to cart', {sku: 'A-100', price: 99})")
    wait_for(lambda: landed_events().count() == 2)

    cookies = {c["name"]: c for c in context.cookies()}
    anonymous_id = cookies["gx_aid"]["value"]
    assert len(anonymous_id) == 36
    assert cookies["gx_aid"]["sameSite"] == "Lax"
    assert cookies["gx_aid"]["expires"] - time.time() > 360 * 24 * 3600
    assert page.evaluate("localStorage.getItem('gx_aid')") == anonymous_id

    # A second page load keeps the same anonymous id; then the visitor logs in.
    page.goto(f"{live_server.url}/shop/checkout/?step=1")
    page.wait_for_function("window.guanxi && window.guanxi.initialized === true")
    page.evaluate("guanxi.identify('shop-user-55', {email: 'lin.wei@example.com', firstName: 'Wei', lastName: 'Lin'})")
    wait_for(lambda: landed_events().count() == 4)

    events = list(landed_events().order_by("id"))
    assert [e.type for e in events] == ["page", "track", "page", "identify"]
    assert {e.anonymous_id for e in events} == {anonymous_id}
    assert [e.user_id for e in events] == ["", "", "", "shop-user-55"]
    first, track, second, identify = (e.payload for e in events)
    assert first["properties"]["path"] == "/shop/home/"
    assert first["context"]["page"]["title"] == "Shop home"
    assert first["context"]["library"] == {"name": "guanxi.js", "version": "1.0.0"}
    assert first["context"]["locale"] == "zh-CN"
    assert track["event"] == "Added to cart"
    assert track["properties"] == {"sku": "A-100", "price": 99}
    assert second["properties"]["search"] == "?step=1"
    assert identify["traits"]["email"] == "lin.wei@example.com"
    assert len({p["messageId"] for p in (first, track, second, identify)}) == 4
    assert "writeKey" not in first  # it authenticated the post (the events landed) and is not kept

    # Leaving the page: a track call made as the page unloads still arrives (sendBeacon).
    page.evaluate("addEventListener('pagehide', function () { guanxi.track('Left checkout') })")
    page.goto("about:blank")
    wait_for(lambda: landed_events().filter(event="Left checkout").exists())
    context.close()

    services.process_landed_events(batch_size=100)
    person = Identifier.objects.get(type="user_id", value="shop-user-55").profile.person
    assert person is not None
    request = HttpRequest()
    request.user = admin_user
    timeline = collect(request, "customers.person", person, Filters(kinds=frozenset({"session"})).window())
    assert len(timeline.entries) == 1
    titles = [child.title for child in timeline.entries[0].children]
    assert titles == [
        "Left checkout",
        "Identified as shop-user-55",
        "Viewed Shop checkout",
        "Added to cart",
        "Viewed Shop home",
    ]


def test_snippet_retries_a_server_error_and_the_message_is_stored_once(
    transactional_db: None, live_server: Any, browser: Browser
) -> None:
    source: Source = SourceFactory.create(name="Shop site")
    WRITE_KEY["key"] = str(source.write_key)  # type: ignore[attr-defined]  # set by SourceFactory
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    attempts: list[str] = []

    def first_fails(route: Any) -> None:
        attempts.append(route.request.post_data or "")
        if len(attempts) == 1:
            route.fulfill(status=500, body="{}")
        else:
            route.continue_()

    page.route("**/v1/track", first_fails)

    def added_to_cart() -> bool:
        with SHARED_CONNECTION:
            return landed_events().filter(event="Added to cart").exists()

    page.goto(f"{live_server.url}/shop/home/")
    page.wait_for_function("window.guanxi && window.guanxi.initialized === true")
    page.evaluate("guanxi.track('Added to cart', {sku: 'A-100'})")
    # Playwright's sync API runs route handlers only inside its own calls: wait in the page.
    deadline = time.monotonic() + 10
    while not added_to_cart() and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    context.close()

    assert len(attempts) == 2
    first, second = (json.loads(body) for body in attempts)
    assert first["messageId"] == second["messageId"]
    assert landed_events().filter(event="Added to cart").count() == 1
