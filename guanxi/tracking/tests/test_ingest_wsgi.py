"""The WSGI door to /v1/* (`guanxi.wsgi.application`, which skips Django's middleware): the same
answers as the Django routes, connections managed through Django's request signals, and every
other path still Django's."""

import base64
import gzip
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import signals
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse

from guanxi.tracking import services
from guanxi.tracking.models import Source
from guanxi.tracking.tests.conftest import key_of
from guanxi.tracking.tests.factories import landed_events
from guanxi.tracking.tests.test_ingest import ONE_MESSAGE_PER_ENDPOINT, _track
from guanxi.wsgi import application


class Reply:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_code = int(status.split()[0])
        self.status = status
        self.headers = dict(headers)
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    method: str,
    path: str,
    body: bytes = b"",
    *,
    key: str | None = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    close_connections: bool = False,
) -> Reply:
    """One request through the WSGI application, as a server would make it. Like Django's test
    client, it keeps the test's transaction open by not letting the request close the connection
    (unless `close_connections`)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["CONTENT_TYPE"] = content_type
    if key:
        environ["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    for name, value in (headers or {}).items():
        cgi_name = name.upper().replace("-", "_")
        environ[cgi_name if cgi_name in ("CONTENT_LENGTH", "CONTENT_TYPE") else "HTTP_" + cgi_name] = value
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, response_headers
        return lambda data: None

    if not close_connections:
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
    try:
        result = application(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
    finally:
        if not close_connections:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
    return Reply(captured["status"], captured["headers"], content)


def _batch(*messages: Any, **extra: Any) -> bytes:
    return json.dumps({"batch": list(messages), **extra}).encode()


def test_a_batch_is_stored_and_acknowledged_without_the_middleware(source: Source) -> None:
    reply = call("POST", "/v1/batch", _batch(_track(1), _track(2)), key=key_of(source))
    assert reply.status == "200 OK"
    assert reply.json() == {"success": True, "stored": 2}
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Content-Length"] == str(len(reply.body))
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    assert reply.headers["Cache-Control"] == "no-store"
    # What only the middleware would add is absent: no session, no CSRF cookie, no language.
    assert "Set-Cookie" not in reply.headers
    assert "Content-Language" not in reply.headers
    assert "Vary" not in reply.headers
    assert sorted(landed_events().values_list("message_id", flat=True)) == ["m-1", "m-2"]


def test_every_endpoint_and_import_alias(source: Source) -> None:
    key = key_of(source)
    for endpoint, body in ONE_MESSAGE_PER_ENDPOINT.items():
        reply = call("POST", f"/v1/{endpoint}", json.dumps({**body, "messageId": f"m-{endpoint}"}).encode(), key=key)
        assert reply.status_code == 200, (endpoint, reply.body)
    assert call("POST", "/v1/import", _batch(_track(9)), key=key).json() == {"success": True, "stored": 1}
    assert dict(landed_events().values_list("message_id", "type")) == {
        **{f"m-{name}": name for name in ONE_MESSAGE_PER_ENDPOINT},
        "m-9": "track",
    }


def test_bad_messages_are_named_and_the_good_ones_kept(source: Source) -> None:
    body = _batch(_track(0), {"type": "track", "anonymousId": "a", "messageId": "x"}, {**_track(2), "userId": []})
    reply = call("POST", "/v1/batch", body, key=key_of(source))
    assert reply.status == "400 Bad Request"
    assert reply.json()["stored"] == 1
    assert [(e["index"], e["field"]) for e in reply.json()["errors"]] == [(1, "event"), (2, "userId")]
    assert list(landed_events().values_list("message_id", flat=True)) == ["m-0"]


def test_refusals(source: Source) -> None:
    key = key_of(source)
    unknown = call("POST", "/v1/track", json.dumps(_track()).encode(), key="wrong")
    assert unknown.status == "401 Unauthorized"
    assert unknown.headers["WWW-Authenticate"].startswith("Basic")
    assert unknown.json()["code"] == "unauthorized"
    get = call("GET", "/v1/batch", key=key)
    assert (get.status_code, get.headers["Allow"]) == (405, "POST")
    too_big = call("POST", "/v1/track", json.dumps({**_track(), "p": "x" * 40_000}).encode(), key=key)
    assert too_big.status == "413 Content Too Large"
    declared = call("POST", "/v1/batch", b"{}", key=key, headers={"Content-Length": str(10**9)})
    assert declared.status_code == 413
    bad_length = call("POST", "/v1/batch", b"{}", key=key, headers={"Content-Length": "many"})
    assert (bad_length.status_code, bad_length.json()["message"]) == (400, "Content-Length is not a number")
    brotli = call("POST", "/v1/batch", b"xx", key=key, headers={"Content-Encoding": "br"})
    assert brotli.status == "415 Unsupported Media Type"
    not_json = call("POST", "/v1/batch", b"{nope", key=key)
    assert (not_json.status_code, not_json.json()["message"]) == (400, "the body is not valid JSON")
    assert not landed_events().exists()


def test_gzip_text_plain_and_key_in_body(source: Source) -> None:
    gzipped = call(
        "POST", "/v1/batch", gzip.compress(_batch(_track(1))), key=key_of(source), headers={"Content-Encoding": "gzip"}
    )
    assert gzipped.status_code == 200
    plain = call(
        "POST", "/v1/track", json.dumps({**_track(2), "writeKey": key_of(source)}).encode(), content_type="text/plain"
    )
    assert plain.status_code == 200
    assert "writeKey" not in landed_events().get(message_id="m-2").payload
    assert landed_events().count() == 2


def test_preflight(source: Source) -> None:
    reply = call("OPTIONS", "/v1/page", headers={"Origin": "https://shop.example"})
    assert reply.status == "204 No Content"
    assert reply.body == b""
    assert reply.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert reply.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type, Content-Encoding"
    assert reply.headers["Access-Control-Max-Age"] == "86400"
    assert "Access-Control-Allow-Credentials" not in reply.headers


CASES: list[tuple[str, bytes]] = [
    ("batch", _batch(_track(1), _track(2))),
    ("batch", _batch(_track(3), {"type": "shout", "anonymousId": "a"}, "text")),
    ("track", json.dumps({**_track(4), "type": "identify"}).encode()),
    ("track", b"[1, 2]"),
    ("batch", b'{"batch": [{"type": "track", "event": "\\ud800", "anonymousId": "a"}]}'),
    ("page", json.dumps({"anonymousId": "a", "name": 5}).encode()),
    ("identify", json.dumps({"userId": 123456789012345678901234567890, "messageId": "wide"}).encode()),
]


@pytest.mark.parametrize(("endpoint", "body"), CASES)
def test_same_answer_as_the_django_route(source: Source, client: Client, endpoint: str, body: bytes) -> None:
    """One code path: the WSGI door and the Django route answer alike (status, JSON), and what
    the first stored, the second finds already stored."""
    via_wsgi = call("POST", f"/v1/{endpoint}", body, key=key_of(source))
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key_of(source)}:".encode()).decode()}
    via_django = client.post(f"/v1/{endpoint}", data=body, content_type="application/json", headers=auth)
    assert via_wsgi.status_code == via_django.status_code
    assert via_wsgi.json() == via_django.json()
    assert via_wsgi.headers["Content-Type"] == via_django["Content-Type"]


def test_other_paths_are_djangos(source: Source) -> None:
    snippet = call("GET", "/v1/guanxi.js")
    assert snippet.status_code == 200
    assert snippet.headers["Content-Type"].startswith("application/javascript")
    assert call("GET", "/v1/nothing-here").status_code == 404
    assert call("POST", "/v1/track/", json.dumps(_track()).encode(), key=key_of(source)).status_code == 404
    login = call("GET", reverse("login"))
    assert login.status_code == 200
    assert "csrftoken" in login.headers["Set-Cookie"]  # the middleware ran


@pytest.fixture
def signals_seen() -> Iterator[list[str]]:
    seen: list[str] = []

    def started(**kwargs: Any) -> None:
        seen.append("started")

    def finished(**kwargs: Any) -> None:
        seen.append("finished")

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    yield seen
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


@pytest.mark.django_db(transaction=True)
def test_requests_send_djangos_signals_so_connections_are_managed(signals_seen: list[str]) -> None:
    from guanxi.tracking.tests.factories import SourceFactory, landed_events

    source = SourceFactory.create()
    reply = call("POST", "/v1/track", json.dumps(_track(1)).encode(), key=key_of(source), close_connections=True)
    assert reply.status_code == 200
    assert signals_seen == ["started", "finished"]
    # close_old_connections ran at the end: with no persistent connections (the test settings'
    # CONN_MAX_AGE 0) the connection is closed, as after any Django request.
    if connection.settings_dict["CONN_MAX_AGE"] == 0 and connection.vendor != "sqlite":
        assert connection.connection is None
    assert landed_events().filter(source=source).count() == 1  # and the next query reconnects


def test_an_unexpected_error_is_a_logged_json_500(
    source: Source, signals_seen: list[str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(services, "land_for_write_key", broken)
    reply = call("POST", "/v1/track", json.dumps(_track(1)).encode(), key=key_of(source))
    assert reply.status == "500 Internal Server Error"
    assert reply.json()["code"] == "server_error"
    assert "the disk is on fire" not in reply.body.decode()
    assert signals_seen == ["started", "finished"]
    assert any(record.exc_info and "the disk is on fire" in str(record.exc_info[1]) for record in caplog.records)


def test_a_host_outside_allowed_hosts_is_refused_before_any_work(source: Source, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    reply = call("POST", "/v1/batch", _batch(_track(1)), key=key_of(source), headers={"Host": "evil.example.net"})
    assert reply.status == "400 Bad Request"
    assert reply.json()["message"] == "the Host header is not one this server answers for"
    assert landed_events().count() == 0
    allowed = call("POST", "/v1/batch", _batch(_track(1)), key=key_of(source), headers={"Host": "crm.example.com:8000"})
    assert allowed.status == "200 OK"
    assert landed_events().count() == 1


def test_behind_a_proxy_the_forwarded_host_is_checked_as_django_checks_it(source: Source, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    proxied = {"Host": "guanxi-app:8000", "X-Forwarded-Host": "crm.example.com"}
    refused = call("POST", "/v1/batch", _batch(_track(1)), key=key_of(source), headers=proxied)
    assert refused.status == "400 Bad Request"  # the proxy's header is not trusted unless configured
    settings.USE_X_FORWARDED_HOST = True
    accepted = call("POST", "/v1/batch", _batch(_track(1)), key=key_of(source), headers=proxied)
    assert accepted.status == "200 OK"
    spoofed = call(
        "POST", "/v1/batch", _batch(_track(2)), key=key_of(source),
        headers={"Host": "crm.example.com", "X-Forwarded-Host": "evil.example.net"},
    )  # fmt: skip
    assert spoofed.status == "400 Bad Request"
    assert list(landed_events().values_list("message_id", flat=True)) == ["m-1"]
