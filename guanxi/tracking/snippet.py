"""Serves the web snippet (`static/tracking/guanxi.js`) at `/v1/guanxi.js`, beside the endpoints it posts to.

Sites load it from the Guanxi host itself rather than from the static files' URL, so the install
code stays the same when static files move to another host, and the script's own address tells
it where to post. It is cached for a day (a week more while revalidating, by ETag), readable by
any site (it is public code), and served with the JavaScript type and `nosniff`.
"""

import hashlib
from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

SNIPPET_PATH = Path(__file__).resolve().parent / "static" / "tracking" / "guanxi.js"
CACHE_SECONDS = 24 * 60 * 60
STALE_SECONDS = 7 * 24 * 60 * 60


@cache
def snippet_source() -> tuple[bytes, str]:
    """The script and its ETag, read once per process."""
    body = SNIPPET_PATH.read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _headers(response: HttpResponse, etag: str) -> HttpResponse:
    response["ETag"] = etag
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    response["X-Content-Type-Options"] = "nosniff"
    patch_cache_control(response, public=True, max_age=CACHE_SECONDS, stale_while_revalidate=STALE_SECONDS)
    return response


@require_safe
def snippet(request: HttpRequest) -> HttpResponse:
    body, etag = snippet_source()
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        return _headers(HttpResponseNotModified(), etag)
    return _headers(HttpResponse(body, content_type="application/javascript; charset=utf-8"), etag)
