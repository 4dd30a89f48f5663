"""The Segment-compatible ingestion endpoints: plain Django views, authenticated by write key.

No session, no CSRF (the key authenticates), no DRF: each request is decoded, validated per
message, landed in one INSERT and one transaction, and answered 200 only after the commit. A
batch with invalid messages still lands the valid ones and answers 400 naming each invalid
message by index and field, saying how many were stored.

Browsers post here from other sites (the web snippet, analytics.js): the body is read as JSON
whatever its Content-Type, so a snippet may send `text/plain` (a "simple" request, no CORS
preflight); every answer allows any origin, and an `OPTIONS` preflight is answered for senders
that do send JSON or an Authorization header. Credentials are never allowed: the write key in
the body or the Basic header authenticates, cookies play no part.

Two doors, one code path. `answer()` does all the work from the request's method, its WSGI
environ (or `request.META`, the same keys) and a body reader, and returns status, headers and
body. The Django views below wrap it for the URL routes (and the test client); `IngestApplication`,
which `guanxi/wsgi.py` puts in front of Django, answers `/v1/<endpoint>` directly, skipping the
middleware stack and URL resolver, whose work (sessions, locale, CSRF, messages…) is of no use to
a write-key API and cost more than validating a 100-message batch. It still sends Django's
`request_started` and `request_finished` signals, so database connections are checked, reused
and closed exactly as for any request.
"""

import base64
import binascii
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from django.core import signals
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from guanxi.tracking import services
from guanxi.tracking.messages import (
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    BodyError,
    clean_body,
    decode_body,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger("django.request")

# A gzip body is read whole before inflating: more than this on the wire cannot hold a valid batch.
MAX_WIRE_BYTES = MAX_BATCH_BYTES + 64 * 1024


CORS_ALLOW_HEADERS = "Authorization, Content-Type, Content-Encoding"
CORS_MAX_AGE = str(24 * 3600)

# Path → endpoint for the WSGI door; /v1/import is Segment's older name for /v1/batch.
ENDPOINTS = {
    "/v1/identify": "identify",
    "/v1/track": "track",
    "/v1/page": "page",
    "/v1/screen": "screen",
    "/v1/group": "group",
    "/v1/alias": "alias",
    "/v1/batch": "batch",
    "/v1/import": "batch",
}


@dataclass(frozen=True)
class Answer:
    """One response of the ingestion API, independent of Django's `HttpResponse`."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


def _json(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return Answer(
        status,
        [
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
            ("Access-Control-Allow-Origin", "*"),
            ("X-Content-Type-Options", "nosniff"),
            *(headers or {}).items(),
        ],
        orjson.dumps(data),
    )


def _preflight() -> Answer:
    """The CORS preflight: POST from any origin, with the headers the SDKs send; no cookies."""
    return Answer(
        204,
        [
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Methods", "POST, OPTIONS"),
            ("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS),
            ("Access-Control-Max-Age", CORS_MAX_AGE),
            ("Allow", "POST, OPTIONS"),
        ],
    )


CODES = {
    400: "invalid_request",
    401: "unauthorized",
    405: "method_not_allowed",
    413: "too_large",
    415: "bad_encoding",
    500: "server_error",
}


def _failure(reason: str, status: int, headers: dict[str, str] | None = None) -> Answer:
    """`code` and `message` are what Segment's SDKs read from an error body; `errors` is ours."""
    body = {
        "success": False,
        "code": CODES.get(status, "error"),
        "message": reason,
        "stored": 0,
        "errors": [{"index": None, "field": "", "reason": reason}],
    }
    return _json(body, status, headers)


def _basic_user(meta: Mapping[str, Any]) -> str | None:
    header = meta.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded.partition(":")[0]


def _write_key(meta: Mapping[str, Any], body: Any) -> str:
    key = _basic_user(meta)
    if not key and isinstance(body, dict) and isinstance(body.get("writeKey"), str):
        key = body["writeKey"]
    return key or ""


def _unauthorised() -> Answer:
    return _failure("unknown or revoked write key", 401, {"WWW-Authenticate": 'Basic realm="guanxi-tracking"'})


def _declared_length(meta: Mapping[str, Any], limit: int) -> int:
    try:
        declared = int(meta.get("CONTENT_LENGTH") or "0")
    except ValueError as exc:
        raise BodyError("Content-Length is not a number") from exc
    if declared > MAX_WIRE_BYTES:
        raise BodyError(f"the body is larger than {limit} bytes", status=413)
    return max(declared, 0)


def answer(method: str, endpoint: str, meta: Mapping[str, Any], read_body: Callable[[int], bytes]) -> Answer:
    """The whole ingestion request: `meta` holds the CGI-style keys (CONTENT_LENGTH,
    HTTP_AUTHORIZATION, HTTP_CONTENT_ENCODING) of a WSGI environ or `request.META`, and
    `read_body(declared_length)` reads the body once its declared length has been checked."""
    if method == "OPTIONS":
        return _preflight()
    if method != "POST":
        return _failure("use POST", 405, {"Allow": "POST"})
    received_at = timezone.now()
    limit = MAX_BATCH_BYTES if endpoint == "batch" else MAX_MESSAGE_BYTES
    try:
        raw = read_body(_declared_length(meta, limit))
        body = decode_body(raw, meta.get("HTTP_CONTENT_ENCODING", ""), limit=limit)
    except BodyError as exc:
        return _failure(exc.reason, exc.status)
    key = _write_key(meta, body)
    if not key:
        return _unauthorised()
    clean, errors = clean_body(body, endpoint=endpoint, received_at=received_at)
    # The key is checked by the statement that lands the batch (one round trip for both).
    result = services.land_for_write_key(key, clean, received_at)
    if result is None:
        return _unauthorised()
    if errors:
        return _json(
            {
                "success": False,
                "code": "invalid_messages",
                "stored": result.stored,
                "rejected": len(errors),
                "message": f"{result.stored} valid messages were stored; {len(errors)} were rejected",
                "errors": [error.as_json() for error in errors],
            },
            status=400,
        )
    return _json({"success": True, "stored": result.stored})


# ---------------------------------------------------------------------------------------------
# The Django door: URL routes in ingest_urls.py, behind the middleware stack.


def _ingest(request: HttpRequest, endpoint: str) -> HttpResponse:
    def read_body(_declared: int) -> bytes:
        try:
            return request.body
        except RequestDataTooBig as exc:
            limit = MAX_BATCH_BYTES if endpoint == "batch" else MAX_MESSAGE_BYTES
            raise BodyError(f"the body is larger than {limit} bytes", status=413) from exc

    result = answer(request.method or "", endpoint, request.META, read_body)
    response = HttpResponse(result.body, status=result.status)
    if not result.body:
        del response["Content-Type"]
    for name, value in result.headers:
        response[name] = value
    return response


@csrf_exempt
def identify(request: HttpRequest) -> HttpResponse:
    return _ingest(request, "identify")


@csrf_exempt
def track(request: HttpRequest) -> HttpResponse:
    return _ingest(request, "track")


@csrf_exempt
def page(request: HttpRequest) -> HttpResponse:
    return _ingest(request, "page")


@csrf_exempt
def screen(request: HttpRequest) -> HttpResponse:
    return _ingest(request, "screen")


@csrf_exempt
def group(request: HttpRequest) -> HttpResponse:
    return _ingest(request, "group")


@csrf_exempt
def alias(request: HttpRequest) -> HttpResponse:
    return _ingest(request, "alias")


@csrf_exempt
def batch(request: HttpRequest) -> HttpResponse:
    return _ingest(request, "batch")


# ---------------------------------------------------------------------------------------------
# The WSGI door: /v1/<endpoint> without Django's middleware and URL resolver.

STATUS_LINES = {
    200: "200 OK",
    204: "204 No Content",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    405: "405 Method Not Allowed",
    413: "413 Content Too Large",
    415: "415 Unsupported Media Type",
    500: "500 Internal Server Error",
}


def _wsgi_reader(environ: "WSGIEnvironment") -> Callable[[int], bytes]:
    def read_body(declared: int) -> bytes:
        stream = environ["wsgi.input"]
        if declared:
            return bytes(stream.read(declared))
        if environ.get("wsgi.input_terminated"):
            # A chunked body (no Content-Length): read one byte past the cap so decode_body says 413.
            return bytes(stream.read(MAX_WIRE_BYTES + 1))
        return b""  # as Django reads it: no Content-Length, no body

    return read_body


def _host_allowed(environ: "WSGIEnvironment") -> bool:
    """Django's own Host check (`HttpRequest.get_host`: ALLOWED_HOSTS, the DEBUG defaults,
    `USE_X_FORWARDED_HOST` behind a proxy) for requests that never reach Django's handler. The
    request object only wraps the environ; the body is left for the endpoint to read."""
    try:
        WSGIRequest(environ).get_host()
    except DisallowedHost:
        return False
    return True


class IngestApplication:
    """A WSGI application answering the ingestion endpoints itself and handing every other path
    to `fallback` (Django). The snippet (/v1/guanxi.js) and unknown /v1/ paths go to Django too."""

    def __init__(self, fallback: "WSGIApplication") -> None:
        self.fallback = fallback

    def __call__(self, environ: "WSGIEnvironment", start_response: "StartResponse") -> Iterable[bytes]:
        endpoint = ENDPOINTS.get(environ.get("PATH_INFO", ""))
        if endpoint is None:
            return self.fallback(environ, start_response)
        if not _host_allowed(environ):
            # As Django refuses a Host outside ALLOWED_HOSTS, before any work is done.
            result = _failure("the Host header is not one this server answers for", 400)
            start_response(
                STATUS_LINES.get(400, "400 Bad Request"), [*result.headers, ("Content-Length", str(len(result.body)))]
            )
            return [result.body]
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            result = answer(environ.get("REQUEST_METHOD", ""), endpoint, environ, _wsgi_reader(environ))
        except Exception:
            # What Django's handler does for an unhandled error: log it (mailed to admins where
            # configured) and answer 500, here in the API's own JSON shape.
            logger.exception("Internal Server Error: %s", environ.get("PATH_INFO", ""))
            result = _failure("internal error", 500)
        finally:
            signals.request_finished.send(sender=self.__class__)
        headers = [*result.headers, ("Content-Length", str(len(result.body)))]
        start_response(STATUS_LINES.get(result.status, f"{result.status} Error"), headers)
        return [result.body]
