"""Reading Segment HTTP tracking messages: decoding, size limits, per-message validation, skew.

Pure functions (no database), so the endpoints stay fast and the rules are tested in isolation.
A message that breaks a rule yields a `MessageError` naming its index and field; the others in
the same batch are still landed.

Speed matters here (every event passes through once, `benchmarks/bench_tracking_ingest.py`):
bodies are decoded and each stored payload serialised with orjson, which is several times
faster than the standard library; the standard library stays the fallback for the JSON that
orjson reads differently (integers beyond 64 bits, which it turns into floats, and NaN,
Infinity or lone surrogates, which it refuses), so what is accepted and stored is unchanged.
"""

import datetime
import json
import uuid
import zlib
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_ID_LENGTH = 255
MAX_MESSAGE_ID_LENGTH = 100
MAX_EVENT_NAME_LENGTH = 200
MESSAGE_TYPES = ("identify", "track", "page", "screen", "group", "alias")
OBJECT_FIELDS = ("traits", "properties", "context", "integrations")
# Deeper JSON than this is abuse, not data, and the databases' JSON types refuse it long before
# Python does (SQLite's json_valid stops at 1,000 levels).
MAX_DEPTH = 32
# orjson reads an integer too wide for 64 bits as a float; twenty digits in a row (in a number or
# a string, this cannot tell) send the body to the standard library, which keeps such integers
# exact. Found by mapping every digit to 0 and searching for a run: a regular expression costs
# ten times as much on a 40 KB batch.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_WIDE_RUN = b"0" * 20


def orjson_reads_exactly(raw: bytes) -> bool:
    """Whether orjson may read this JSON: no run of twenty digits, so no integer it would turn
    into a float. (What else orjson reads differently, it refuses: the caller then asks the
    standard library.)"""
    return _WIDE_RUN not in raw.translate(_DIGITS_TO_ZERO)


class BodyError(ValueError):
    """The request body as a whole cannot be read (not JSON, too large, bad gzip)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class MessageError:
    index: int
    field: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


class CleanMessage(NamedTuple):
    """What landing stores for one valid message. (A named tuple: built once per event on the
    request's time, where a frozen dataclass's field-by-field `__init__` cost twice as much.)"""

    message_id: str
    type: str
    event: str
    user_id: str
    anonymous_id: str
    payload: dict[str, Any]
    timestamp: datetime.datetime
    payload_json: bytes = b""  # the payload serialised once, reused by the landing


def decode_body(raw: bytes, content_encoding: str, limit: int = MAX_BATCH_BYTES) -> Any:
    """The JSON of a request body, un-gzipped with a cap so a small bomb cannot expand to gigabytes."""
    encoding = content_encoding.strip().lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise BodyError("the body is not valid gzip") from exc
        if len(raw) > limit or inflater.unconsumed_tail:
            raise BodyError(f"the decompressed body is larger than {limit} bytes", status=413)
    elif encoding not in ("", "identity"):
        raise BodyError(f"unsupported Content-Encoding {content_encoding!r}", status=415)
    if len(raw) > limit:
        raise BodyError(f"the body is larger than {limit} bytes", status=413)
    if orjson_reads_exactly(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the standard library decides, and names the reason (NaN, bad UTF-8, …)
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise BodyError("the body is not UTF-8") from exc
    except (ValueError, RecursionError) as exc:
        raise BodyError("the body is not valid JSON") from exc


def parse_time(value: Any) -> datetime.datetime | None:
    """An ISO-8601 time as an aware datetime (naive means UTC); None when it is not one."""
    if not isinstance(value, str) or not 8 <= len(value) <= 40:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    try:
        parsed.astimezone(datetime.UTC)
    except OverflowError:
        return None
    return parsed


def _identifier(message: dict[str, Any], key: str) -> tuple[str, str | None]:
    """An id as stored (numbers are sent by some SDKs) and an error reason when it is unusable."""
    value = message.get(key)
    if value is None:
        return "", None
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool) or not isinstance(value, (int, float)):  # a tuple checks faster than a union
        return "", "must be a string"
    else:
        text = str(value)
    if len(text) > MAX_ID_LENGTH:
        return "", f"must be at most {MAX_ID_LENGTH} characters"
    if "\x00" in text:
        return "", "must not contain NUL characters"
    return text, None


def _serialise(message: dict[str, Any]) -> bytes | None:
    """The payload as compact UTF-8 JSON, or None when it holds text that is not valid Unicode."""
    try:
        return orjson.dumps(message)
    except (orjson.JSONEncodeError, TypeError):
        pass  # an integer beyond 64 bits, a lone surrogate, or nesting past orjson's 254 levels
    try:
        return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        # Lone surrogates ("\ud800") decode from JSON but cannot be stored as UTF-8.
        return None


def _too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether containers nest deeper than `limit`, walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values() if isinstance(child, dict | list))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item if isinstance(child, dict | list))
    return False


def clean_message(
    message: Any,
    index: int,
    *,
    forced_type: str | None,
    received_at: datetime.datetime,
    batch_sent_at: datetime.datetime | None,
    batch_defaults: dict[str, Any] | None = None,
) -> CleanMessage | MessageError:
    """Validate one message and compute its corrected timestamp."""
    if not isinstance(message, dict):
        return MessageError(index, "", "a message must be a JSON object")
    if batch_defaults:
        message = {**batch_defaults, **message}
    message_type = forced_type or message.get("type")
    if not isinstance(message_type, str) or message_type not in MESSAGE_TYPES:
        return MessageError(index, "type", f"must be one of {', '.join(MESSAGE_TYPES)}")
    if forced_type and message.get("type") not in (None, forced_type):
        return MessageError(index, "type", f"must be {forced_type} on this endpoint")
    message["type"] = message_type
    for key in OBJECT_FIELDS:
        value = message.get(key)
        if value is not None and not isinstance(value, dict):
            return MessageError(index, key, "must be a JSON object")
    user_id, problem = _identifier(message, "userId")
    if problem:
        return MessageError(index, "userId", problem)
    anonymous_id, problem = _identifier(message, "anonymousId")
    if problem:
        return MessageError(index, "anonymousId", problem)
    event = ""
    if message_type == "alias":
        previous_id, problem = _identifier(message, "previousId")
        if problem or not previous_id:
            return MessageError(index, "previousId", problem or "is required for alias")
        if not user_id:
            return MessageError(index, "userId", "is required for alias")
    elif not user_id and not anonymous_id:
        return MessageError(index, "userId", "userId or anonymousId is required")
    if message_type == "track":
        name = message.get("event")
        if not isinstance(name, str) or not name.strip():
            return MessageError(index, "event", "is required for track")
        if len(name) > MAX_EVENT_NAME_LENGTH or "\x00" in name:
            return MessageError(index, "event", f"must be at most {MAX_EVENT_NAME_LENGTH} characters")
        event = name
    elif message_type in ("page", "screen"):
        name = message.get("name")
        if name is not None and not isinstance(name, str):
            return MessageError(index, "name", "must be a string")
        event = (name or "")[:MAX_EVENT_NAME_LENGTH].replace("\x00", "")
    elif message_type == "group":
        group_id, problem = _identifier(message, "groupId")
        if problem or not group_id:
            return MessageError(index, "groupId", problem or "is required for group")
    message_id, problem = _identifier(message, "messageId")
    if problem or len(message_id) > MAX_MESSAGE_ID_LENGTH:
        return MessageError(index, "messageId", problem or f"must be at most {MAX_MESSAGE_ID_LENGTH} characters")
    if not message_id:
        # The spec lets senders omit it; such a message cannot be deduplicated, so it gets a fresh id.
        message_id = f"guanxi-{uuid.uuid4()}"
        message["messageId"] = message_id
    timestamp = received_at
    if message.get("timestamp") is not None:
        sent_time = parse_time(message["timestamp"])
        if sent_time is None:
            return MessageError(index, "timestamp", "must be an ISO-8601 date and time")
        sent_at = batch_sent_at
        if message.get("sentAt") is not None:
            sent_at = parse_time(message["sentAt"])
            if sent_at is None:
                return MessageError(index, "sentAt", "must be an ISO-8601 date and time")
        try:
            timestamp = sent_time + (received_at - sent_at) if sent_at else sent_time
            timestamp.astimezone(datetime.UTC)
        except OverflowError:
            return MessageError(index, "timestamp", "is out of range")
    elif message.get("sentAt") is not None and parse_time(message["sentAt"]) is None:
        return MessageError(index, "sentAt", "must be an ISO-8601 date and time")
    data = _serialise(message)
    # Nesting deeper than MAX_DEPTH needs more than MAX_DEPTH brackets: most payloads have a
    # handful, so the walk is skipped for them.
    if (data is None or data.count(b"{") + data.count(b"[") > MAX_DEPTH) and _too_deep(message):
        return MessageError(index, "", f"nests objects and lists deeper than {MAX_DEPTH} levels")
    if data is None:
        return MessageError(index, "", "contains text that is not valid Unicode")
    if b"\\u0000" in data:
        # PostgreSQL's jsonb cannot hold a NUL character; refuse it on every database alike.
        return MessageError(index, "", "must not contain NUL characters")
    if len(data) > MAX_MESSAGE_BYTES:
        return MessageError(index, "", f"a message must be at most {MAX_MESSAGE_BYTES} bytes")
    return CleanMessage(
        message_id=message_id,
        type=message_type,
        event=event,
        user_id=user_id,
        anonymous_id=anonymous_id,
        payload=message,
        timestamp=timestamp,
        payload_json=data,
    )


def clean_body(
    body: Any, *, endpoint: str, received_at: datetime.datetime
) -> tuple[list[CleanMessage], list[MessageError]]:
    """Every message of a request body: the valid ones and an error for each invalid one."""
    if not isinstance(body, dict):
        return [], [MessageError(0, "", "the body must be a JSON object")]
    batch_sent_at = parse_time(body.get("sentAt"))
    if endpoint != "batch":
        result = clean_message(
            {k: v for k, v in body.items() if k != "writeKey"},
            0,
            forced_type=endpoint,
            received_at=received_at,
            batch_sent_at=None,
        )
        return ([result], []) if isinstance(result, CleanMessage) else ([], [result])
    batch = body.get("batch")
    if not isinstance(batch, list):
        return [], [MessageError(0, "batch", "must be a list of messages")]
    defaults = {key: body[key] for key in ("context", "integrations") if isinstance(body.get(key), dict)}
    clean: list[CleanMessage] = []
    errors: list[MessageError] = []
    for index, message in enumerate(batch):
        result = clean_message(
            message,
            index,
            forced_type=None,
            received_at=received_at,
            batch_sent_at=batch_sent_at,
            batch_defaults=defaults,
        )
        if isinstance(result, CleanMessage):
            clean.append(result)
        else:
            errors.append(result)
    return clean, errors
