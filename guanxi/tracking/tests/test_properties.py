"""Property-based tests: whatever is thrown at the endpoints, never a 500, never a lost valid message."""

import datetime
import gzip
import json
import uuid
from typing import Any

from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guanxi.tracking.messages import clean_message, parse_time
from guanxi.tracking.models import Source
from guanxi.tracking.tests.conftest import key_of
from guanxi.tracking.tests.factories import landed_events
from guanxi.tracking.tests.test_ingest import _auth

ENDPOINTS = ["identify", "track", "page", "screen", "group", "alias", "batch"]
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
field_names = st.sampled_from(
    [
        "type",
        "userId",
        "anonymousId",
        "event",
        "name",
        "traits",
        "properties",
        "context",
        "timestamp",
        "sentAt",
        "messageId",
        "integrations",
        "previousId",
        "groupId",
    ]
)
bad_times = st.one_of(
    st.text(max_size=40),
    st.integers(),
    st.sampled_from(
        [
            "2024-13-45T99:99:99Z",
            "0000-00-00",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00-14:00",
            "2024-02-30",
            "yesterday",
            "",
            "2024-01-01T00:00:00.123456789Z",
        ]
    ),
)
hostile_messages = st.dictionaries(field_names, json_values, max_size=8) | json_values


def _valid(n: int) -> dict[str, Any]:
    return {"type": "track", "event": "Valid", "anonymousId": f"v-{n}", "messageId": f"valid-{uuid.uuid4()}"}


def _post(client: Client, source: Source, endpoint: str, data: bytes, encoding: str = "") -> Any:
    headers = _auth(key_of(source))
    if encoding:
        headers["Content-Encoding"] = encoding
    return client.post(f"/v1/{endpoint}", data=data, content_type="application/json", headers=headers)


@SETTINGS
@given(junk=st.lists(hostile_messages, max_size=6), valid_count=st.integers(0, 4), position=st.integers(0, 6))
def test_batch_of_hostile_messages_keeps_every_valid_one(
    client: Client, source: Source, junk: list[Any], valid_count: int, position: int
) -> None:
    valid = [_valid(n) for n in range(valid_count)]
    batch = junk[:position] + valid + junk[position:]
    response = _post(client, source, "batch", json.dumps({"batch": batch}).encode())
    assert response.status_code in (200, 400, 413)
    if response.status_code != 413:
        ids = [m["messageId"] for m in valid]
        assert landed_events().filter(message_id__in=ids).count() == len(ids)
        body = response.json()
        assert body["success"] is (response.status_code == 200)


@SETTINGS
@given(endpoint=st.sampled_from(ENDPOINTS), body=json_values)
def test_any_json_body_on_any_endpoint_is_never_a_500(client: Client, source: Source, endpoint: str, body: Any) -> None:
    response = _post(client, source, endpoint, json.dumps(body).encode())
    assert response.status_code in (200, 400, 413)


@SETTINGS
@given(endpoint=st.sampled_from(ENDPOINTS), raw=st.binary(max_size=300), gzipped=st.booleans())
def test_arbitrary_bytes_and_invalid_utf8_are_never_a_500(
    client: Client, source: Source, endpoint: str, raw: bytes, gzipped: bool
) -> None:
    data = gzip.compress(raw) if gzipped else raw
    response = _post(client, source, endpoint, data, "gzip" if gzipped else "")
    assert response.status_code in (200, 400, 413)


@SETTINGS
@given(timestamp=bad_times, sent_at=bad_times | st.none())
def test_bad_timestamps_are_400_or_stored_never_500(
    client: Client, source: Source, timestamp: Any, sent_at: Any
) -> None:
    message = {**_valid(0), "timestamp": timestamp}
    if sent_at is not None:
        message["sentAt"] = sent_at
    response = _post(client, source, "batch", json.dumps({"batch": [message, _valid(1)]}).encode())
    assert response.status_code in (200, 400)
    assert landed_events().filter(message_id=message["messageId"]).exists() is (response.status_code == 200)


@SETTINGS
@given(depth=st.integers(1, 3000), width=st.integers(0, 40_000))
def test_deeply_nested_and_huge_payloads(client: Client, source: Source, depth: int, width: int) -> None:
    nested = "[" * depth + "]" * depth
    properties = '{"n": ' + nested + ', "w": "' + "x" * width + '"}'
    body = '{"batch": [{"type": "track", "event": "E", "anonymousId": "a", "properties": ' + properties + "}]}"
    response = _post(client, source, "batch", body.encode())
    assert response.status_code in (200, 400, 413)


@given(value=st.text(max_size=60))
def test_parse_time_never_raises(value: str) -> None:
    parsed = parse_time(value)
    assert parsed is None or parsed.tzinfo is not None


@given(message=hostile_messages)
def test_clean_message_never_raises(message: Any) -> None:
    now = datetime.datetime.now(datetime.UTC)
    clean_message(message, 0, forced_type=None, received_at=now, batch_sent_at=now)
