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
"""

import base64
import binascii
import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
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
from guanxi.tracking.models import Source

# A gzip body is read whole before inflating: more than this on the wire cannot hold a valid batch.
MAX_WIRE_BYTES = MAX_BATCH_BYTES + 64 * 1024


CORS_ALLOW_HEADERS = "Authorization, Content-Type, Content-Encoding"
CORS_MAX_AGE = str(24 * 3600)


def _json(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers,
    )
    response["Cache-Control"] = "no-store"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _preflight() -> HttpResponse:
    """The CORS preflight: POST from any origin, with the headers the SDKs send; no cookies."""
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
    response["Access-Control-Max-Age"] = CORS_MAX_AGE
    response["Allow"] = "POST, OPTIONS"
    return response


CODES = {400: "invalid_request", 401: "unauthorized", 405: "method_not_allowed", 413: "too_large", 415: "bad_encoding"}


def _failure(reason: str, status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    """`code` and `message` are what Segment's SDKs read from an error body; `errors` is ours."""
    body = {
        "success": False,
        "code": CODES.get(status, "error"),
        "message": reason,
        "stored": 0,
        "errors": [{"index": None, "field": "", "reason": reason}],
    }
    return _json(body, status, headers)


def _basic_user(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded.partition(":")[0]


def _source_for(request: HttpRequest, body: Any) -> Source | None:
    key = _basic_user(request)
    if not key and isinstance(body, dict) and isinstance(body.get("writeKey"), str):
        key = body["writeKey"]
    return services.authenticate_write_key(key) if key else None


def _read_body(request: HttpRequest, limit: int) -> bytes:
    length = request.META.get("CONTENT_LENGTH") or "0"
    try:
        declared = int(length)
    except ValueError as exc:
        raise BodyError("Content-Length is not a number") from exc
    if declared > MAX_WIRE_BYTES:
        raise BodyError(f"the body is larger than {limit} bytes", status=413)
    try:
        return request.body
    except RequestDataTooBig as exc:
        raise BodyError(f"the body is larger than {limit} bytes", status=413) from exc


def _ingest(request: HttpRequest, endpoint: str) -> HttpResponse:
    if request.method == "OPTIONS":
        return _preflight()
    if request.method != "POST":
        return _failure("use POST", 405, {"Allow": "POST"})
    received_at = timezone.now()
    limit = MAX_BATCH_BYTES if endpoint == "batch" else MAX_MESSAGE_BYTES
    try:
        raw = _read_body(request, limit)
        body = decode_body(raw, request.META.get("HTTP_CONTENT_ENCODING", ""), limit=limit)
    except BodyError as exc:
        return _failure(exc.reason, exc.status)
    source = _source_for(request, body)
    if source is None:
        return _failure("unknown or revoked write key", 401, {"WWW-Authenticate": 'Basic realm="guanxi-tracking"'})
    clean, errors = clean_body(body, endpoint=endpoint, received_at=received_at)
    result = services.land_messages(source, clean, received_at)
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
