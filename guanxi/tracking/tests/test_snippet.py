"""The web snippet: served at /v1/guanxi.js with cache and cross-site headers, its install code,
and the text/plain posts it makes landing like any SDK's."""

import json
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse

from guanxi.tracking.models import Source
from guanxi.tracking.snippet import SNIPPET_PATH
from guanxi.tracking.tests.conftest import key_of
from guanxi.tracking.tests.factories import landed_events

pytestmark = pytest.mark.django_db


def test_snippet_is_served_as_cacheable_javascript_any_site_may_load(client: Client) -> None:
    response = client.get("/v1/guanxi.js")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response.content == SNIPPET_PATH.read_bytes()
    cache = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"public", "max-age=86400", "stale-while-revalidate=604800"} <= cache
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert reverse("ingest:snippet") == "/v1/guanxi.js"


def test_snippet_revalidates_by_etag_and_refuses_posts(client: Client) -> None:
    etag = client.get("/v1/guanxi.js")["ETag"]
    again = client.get("/v1/guanxi.js", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert client.get("/v1/guanxi.js", headers={"if-none-match": '"stale"'}).status_code == 200
    assert client.post("/v1/guanxi.js").status_code == 405


def test_snippet_has_the_documented_api_and_posts_only_to_its_host() -> None:
    source = SNIPPET_PATH.read_text()
    for needle in (
        "load: function (writeKey, options)",
        "page: function",
        "track: function",
        "identify: function",
        "reset: function",
        'state.host + "/v1/" + type',
        "sendBeacon",
        "SameSite=Lax",
        "; Secure",
        '"text/plain;charset=UTF-8"',
        "messageId: uuid()",
        "sentAt: now",
    ):
        assert needle in source, needle
    assert "http://" not in source
    assert "https://" not in source


def test_install_code_names_this_server_and_escapes_the_key(source: Source, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    request = RequestFactory().get("/", HTTP_HOST="crm.example.com", secure=True)
    html = render_to_string(
        "tracking/_snippet_install.html", {"source": source, "write_key": 'k"</script>'}, request=request
    )
    assert "s.src=&quot;https://crm.example.com/v1/guanxi.js&quot;" in html
    assert "{host:&quot;https://crm.example.com&quot;}" in html
    assert "k\\u0022\\u003C/script\\u003E" in html
    assert "</script>\n" not in html.split("<pre", 1)[1].split("</pre>", 1)[0]

    placeholder = render_to_string("tracking/_snippet_install.html", {"source": source}, request=request)
    assert "YOUR_WRITE_KEY" in placeholder
    assert source.write_key_prefix in placeholder


def test_a_text_plain_post_with_the_key_in_the_body_lands(client: Client, source: Source) -> None:
    body = {
        "type": "track",
        "event": "Added to cart",
        "anonymousId": "9b2f7f3e-0000-4000-8000-000000000001",
        "messageId": "m-1",
        "writeKey": key_of(source),
        "properties": {"sku": "A-100"},
        "context": {"library": {"name": "guanxi.js", "version": "1.0.0"}},
    }
    response = client.post("/v1/track", data=json.dumps(body), content_type="text/plain;charset=UTF-8")
    assert response.status_code == 200, response.content
    event = landed_events().get()
    assert (event.event, event.anonymous_id, event.source_id) == ("Added to cart", body["anonymousId"], source.pk)
