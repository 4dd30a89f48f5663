"""The /v1/ endpoints: write-key auth, limits, gzip, per-message errors, dedupe, clock skew."""

import base64
import datetime
import gzip
import json
from typing import Any

import pytest
from django.test import Client

from guanxi.staff.models import User
from guanxi.tracking import services
from guanxi.tracking.models import Source
from guanxi.tracking.tests.conftest import key_of
from guanxi.tracking.tests.factories import SourceFactory, landed_events


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def _post(client: Client, path: str, body: Any, key: str | None, encoding: str = "") -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = _auth(key) if key else {}
    if encoding:
        headers["Content-Encoding"] = encoding
    return client.post(path, data=data, content_type="application/json", headers=headers)


def _track(n: int = 0, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Viewed Product", "anonymousId": f"anon-{n}", "messageId": f"m-{n}", **extra}


# ---------------------------------------------------------------------------------------------
# Authentication


#: One valid message for each single-message endpoint (without its messageId).
ONE_MESSAGE_PER_ENDPOINT: dict[str, dict[str, Any]] = {
    "identify": {"userId": "u1", "traits": {"email": "a@example.com"}},
    "track": {"userId": "u1", "event": "Signed Up"},
    "page": {"anonymousId": "a1", "name": "Home"},
    "screen": {"anonymousId": "a1", "name": "Cart"},
    "group": {"userId": "u1", "groupId": "g1"},
    "alias": {"previousId": "a1", "userId": "u1"},
}


def test_every_endpoint_accepts_its_message_with_basic_auth(client: Client, source: Source) -> None:
    key = key_of(source)
    for endpoint, body in ONE_MESSAGE_PER_ENDPOINT.items():
        response = _post(client, f"/v1/{endpoint}", {**body, "messageId": f"m-{endpoint}"}, key)
        assert response.status_code == 200, (endpoint, response.content)
        assert response.json() == {"success": True, "stored": 1}
    stored = dict(landed_events().values_list("message_id", "type"))
    assert stored == {f"m-{name}": name for name in ONE_MESSAGE_PER_ENDPOINT}
    assert landed_events().get(message_id="m-track").event == "Signed Up"
    assert landed_events().get(message_id="m-page").event == "Home"


def test_write_key_in_body_is_accepted(client: Client, source: Source) -> None:
    response = _post(client, "/v1/track", {**_track(), "writeKey": key_of(source)}, None)
    assert response.status_code == 200
    event = landed_events().get()
    assert event.source == source
    assert "writeKey" not in event.payload


@pytest.mark.parametrize("key", [None, "wrong-key", ""])
def test_missing_or_wrong_key_is_401_and_stores_nothing(client: Client, source: Source, key: str | None) -> None:
    response = _post(client, "/v1/track", _track(), key)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert landed_events().count() == 0


def test_revoked_key_is_refused(client: Client, source: Source, admin_user: User) -> None:
    services.revoke_source(admin_user, source)
    assert _post(client, "/v1/track", _track(), key_of(source)).status_code == 401


def test_only_post(client: Client, source: Source) -> None:
    response = client.get("/v1/batch", headers=_auth(key_of(source)))
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_no_csrf_and_no_session(source: Source) -> None:
    client = Client(enforce_csrf_checks=True)
    response = _post(client, "/v1/track", _track(), key_of(source))
    assert response.status_code == 200
    assert "sessionid" not in response.cookies
    assert "csrftoken" not in response.cookies


# ---------------------------------------------------------------------------------------------
# Batches, partial errors, dedupe


def test_batch_keeps_valid_messages_and_names_invalid_ones(client: Client, source: Source) -> None:
    batch = [
        _track(0),
        {"type": "track", "anonymousId": "a", "messageId": "no-event"},
        _track(2),
        {"type": "identify", "messageId": "no-ids", "traits": {}},
        {"type": "shout", "anonymousId": "a", "messageId": "bad-type"},
        "not an object",
        {**_track(6), "properties": ["not", "an", "object"]},
        {**_track(7), "timestamp": "yesterday"},
    ]
    response = _post(client, "/v1/batch", {"batch": batch}, key_of(source))
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["stored"] == 2
    assert body["rejected"] == 6
    assert "2 valid messages were stored" in body["message"]
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (1, "event"),
        (3, "userId"),
        (4, "type"),
        (5, ""),
        (6, "properties"),
        (7, "timestamp"),
    ]
    assert sorted(landed_events().values_list("message_id", flat=True)) == ["m-0", "m-2"]


def test_retried_message_is_stored_once(client: Client, source: Source) -> None:
    key = key_of(source)
    for _ in range(3):
        assert _post(client, "/v1/batch", {"batch": [_track(1), _track(2)]}, key).status_code == 200
    assert _post(client, "/v1/track", _track(1), key).status_code == 200
    assert landed_events().count() == 2


def test_same_message_id_from_another_source_is_another_message(client: Client, source: Source) -> None:
    other = SourceFactory.create()
    _post(client, "/v1/track", _track(1), key_of(source))
    _post(client, "/v1/track", _track(1), key_of(other))
    assert landed_events().count() == 2


def test_missing_message_id_gets_a_generated_one(client: Client, source: Source) -> None:
    body = {"type": "track", "event": "E", "anonymousId": "a"}
    _post(client, "/v1/track", body, key_of(source))
    _post(client, "/v1/track", body, key_of(source))
    ids = list(landed_events().values_list("message_id", flat=True))
    assert len(ids) == 2
    assert ids[0] != ids[1]
    assert all(i.startswith("guanxi-") for i in ids)


def test_batch_context_applies_to_each_message(client: Client, source: Source) -> None:
    body = {"batch": [_track(1), {**_track(2), "context": {"ip": "10.0.0.2"}}], "context": {"ip": "10.0.0.1"}}
    _post(client, "/v1/batch", body, key_of(source))
    assert landed_events().get(message_id="m-1").payload["context"] == {"ip": "10.0.0.1"}
    assert landed_events().get(message_id="m-2").payload["context"] == {"ip": "10.0.0.2"}


def test_numeric_user_id_is_stored_as_text(client: Client, source: Source) -> None:
    _post(client, "/v1/track", {"userId": 42, "event": "E", "messageId": "n"}, key_of(source))
    assert landed_events().get().user_id == "42"


def test_wrong_type_on_single_endpoint(client: Client, source: Source) -> None:
    response = _post(client, "/v1/track", {**_track(), "type": "identify"}, key_of(source))
    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 0, "field": "type", "reason": "must be track on this endpoint"}]


# ---------------------------------------------------------------------------------------------
# Limits and encodings


def test_message_over_32_kb_is_rejected_but_batch_siblings_kept(client: Client, source: Source) -> None:
    big = {**_track(1), "properties": {"blob": "x" * (33 * 1024)}}
    response = _post(client, "/v1/batch", {"batch": [big, _track(2)]}, key_of(source))
    assert response.status_code == 400
    assert response.json()["errors"][0]["index"] == 0
    assert list(landed_events().values_list("message_id", flat=True)) == ["m-2"]


def test_single_message_body_over_32_kb_is_413(client: Client, source: Source) -> None:
    big = {**_track(1), "properties": {"blob": "x" * (33 * 1024)}}
    assert _post(client, "/v1/track", big, key_of(source)).status_code == 413


def test_batch_over_500_kb_is_413_and_stores_nothing(client: Client, source: Source) -> None:
    batch = [{**_track(n), "properties": {"blob": "x" * 20_000}} for n in range(30)]
    response = _post(client, "/v1/batch", {"batch": batch}, key_of(source))
    assert response.status_code == 413
    assert landed_events().count() == 0


def test_gzip_body(client: Client, source: Source) -> None:
    body = gzip.compress(json.dumps({"batch": [_track(1), _track(2)]}).encode())
    response = _post(client, "/v1/batch", body, key_of(source), encoding="gzip")
    assert response.status_code == 200
    assert landed_events().count() == 2


def test_gzip_bomb_is_capped(client: Client, source: Source) -> None:
    bomb = gzip.compress(b'{"batch": [' + b" " * (5 * 1024 * 1024) + b"]}")
    assert len(bomb) < 50_000
    response = _post(client, "/v1/batch", bomb, key_of(source), encoding="gzip")
    assert response.status_code == 413


def test_broken_gzip_and_json_and_utf8(client: Client, source: Source) -> None:
    key = key_of(source)
    assert _post(client, "/v1/batch", b"\x1f\x8bnot gzip", key, encoding="gzip").status_code == 400
    assert _post(client, "/v1/batch", b"{not json", key).status_code == 400
    response = _post(client, "/v1/track", b'{"event": "\xff\xfe", "anonymousId": "a"}', key)
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "the body is not UTF-8"
    response = _post(client, "/v1/batch", b"[1, 2]", key)
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "the body must be a JSON object"


def test_nul_characters_are_refused_per_message(client: Client, source: Source) -> None:
    response = _post(
        client, "/v1/batch", {"batch": [{**_track(1), "properties": {"a": "x\u0000y"}}, _track(2)]}, key_of(source)
    )
    assert response.status_code == 400
    assert response.json()["stored"] == 1


# ---------------------------------------------------------------------------------------------
# Time


def test_clock_skew_is_corrected_from_sent_at(client: Client, source: Source) -> None:
    # The device's clock runs 1 hour behind: it says it sent the batch an hour before we got it.
    before = datetime.datetime.now(datetime.UTC)
    device_now = before - datetime.timedelta(hours=1)
    body = {
        "batch": [{**_track(1), "timestamp": (device_now - datetime.timedelta(minutes=5)).isoformat()}],
        "sentAt": device_now.isoformat(),
    }
    _post(client, "/v1/batch", body, key_of(source))
    event = landed_events().get()
    happened = event.received_at - datetime.timedelta(minutes=5)
    assert abs((event.timestamp - happened).total_seconds()) < 2
    assert event.payload["timestamp"] == body["batch"][0]["timestamp"]  # type: ignore[index]  # stored as sent


def test_timestamp_without_sent_at_is_kept_and_missing_timestamp_is_received_at(client: Client, source: Source) -> None:
    _post(
        client,
        "/v1/batch",
        {"batch": [{**_track(1), "timestamp": "2024-05-01T08:00:00+08:00"}, _track(2)]},
        key_of(source),
    )
    first = landed_events().get(message_id="m-1")
    assert first.timestamp == datetime.datetime(2024, 5, 1, 0, 0, tzinfo=datetime.UTC)
    second = landed_events().get(message_id="m-2")
    assert second.timestamp == second.received_at


def test_skew_pushing_time_out_of_range_is_a_400_not_a_500(client: Client, source: Source) -> None:
    body = {**_track(1), "timestamp": "9999-12-31T23:59:59Z", "sentAt": "0001-01-01T00:00:00Z"}
    response = _post(client, "/v1/track", body, key_of(source))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "timestamp"


def test_too_deep_nesting_is_refused_per_message(client: Client, source: Source) -> None:
    deep: Any = "leaf"
    for _ in range(40):
        deep = {"x": deep}
    shallow: Any = "leaf"
    for _ in range(20):
        shallow = [shallow]
    batch = [{**_track(1), "properties": deep}, {**_track(2), "properties": {"ok": shallow}}]
    response = _post(client, "/v1/batch", {"batch": batch}, key_of(source))
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "field": "", "reason": "nests objects and lists deeper than 32 levels"}
    ]
    assert list(landed_events().values_list("message_id", flat=True)) == ["m-2"]


# ---------------------------------------------------------------------------------------------
# JSON read as the standard library reads it (orjson is only the fast path)


def test_integers_wider_than_64_bits_are_stored_exactly(client: Client, source: Source) -> None:
    wide = 123456789012345678901234567890
    body = {**_track(1), "userId": wide, "properties": {"n": wide, "big": 2**64}}
    assert _post(client, "/v1/track", body, key_of(source)).status_code == 200
    event = landed_events().get()
    assert event.user_id == str(wide)
    assert event.payload["properties"] == {"n": wide, "big": 2**64}


def test_non_standard_numbers_and_lone_surrogates_are_judged_per_message(client: Client, source: Source) -> None:
    head = b'{"type": "track", "event": "E", "anonymousId": "a", '
    raw = (
        b'{"batch": ['
        + head
        + b'"messageId": "m-1", "properties": {"x": "\\ud800"}}, '
        + head
        + b'"messageId": "m-2", "properties": {"x": 1e400}}]}'
    )
    response = _post(client, "/v1/batch", raw, key_of(source))
    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 0, "field": "", "reason": "contains text that is not valid Unicode"}]
    assert landed_events().get().payload["properties"] == {"x": None}  # Infinity has no JSON form


def test_a_message_id_twice_in_one_batch_is_stored_once(client: Client, source: Source) -> None:
    response = _post(client, "/v1/batch", {"batch": [_track(1), _track(1, event="Again"), _track(2)]}, key_of(source))
    assert response.status_code == 200
    assert sorted(landed_events().values_list("message_id", "event")) == [
        ("m-1", "Viewed Product"),
        ("m-2", "Viewed Product"),
    ]
