"""The endpoints a web snippet posts to from other sites: text/plain JSON bodies and CORS."""

import json

from django.test import Client

from guanxi.tracking.models import Source
from guanxi.tracking.tests.conftest import key_of
from guanxi.tracking.tests.factories import landed_events
from guanxi.tracking.tests.test_ingest import _auth, _track


def test_preflight_allows_any_origin_without_credentials(client: Client, source: Source) -> None:
    for endpoint in ("page", "track", "identify", "batch"):
        response = client.options(
            f"/v1/{endpoint}",
            headers={
                "Origin": "https://shop.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert response.status_code == 204
        assert response["Access-Control-Allow-Origin"] == "*"
        assert response["Access-Control-Allow-Methods"] == "POST, OPTIONS"
        assert response["Access-Control-Allow-Headers"] == "Authorization, Content-Type, Content-Encoding"
        assert response["Access-Control-Max-Age"] == "86400"
        assert "Access-Control-Allow-Credentials" not in response
    assert not landed_events().exists()


def test_a_text_plain_body_with_the_key_inside_is_stored(client: Client, source: Source) -> None:
    body = json.dumps({**_track(1), "writeKey": key_of(source)})
    response = client.post("/v1/track", data=body, content_type="text/plain", headers={"Origin": "https://a.example"})
    assert response.status_code == 200
    assert response.json() == {"success": True, "stored": 1}
    assert response["Access-Control-Allow-Origin"] == "*"
    assert landed_events().get().message_id == "m-1"


def test_text_plain_batches_and_errors_answer_cors_too(client: Client, source: Source) -> None:
    batch = json.dumps({"batch": [_track(1), {"type": "track"}], "writeKey": key_of(source)})
    response = client.post("/v1/batch", data=batch, content_type="text/plain;charset=UTF-8")
    assert response.status_code == 400
    assert response.json()["stored"] == 1
    assert response["Access-Control-Allow-Origin"] == "*"
    refused = client.post("/v1/track", data=json.dumps(_track(2)), content_type="text/plain")
    assert refused.status_code == 401
    assert refused["Access-Control-Allow-Origin"] == "*"
    broken = client.post("/v1/track", data="{not json", content_type="text/plain", headers=_auth(key_of(source)))
    assert broken.status_code == 400
    assert broken["Access-Control-Allow-Origin"] == "*"
    assert landed_events().count() == 1


def test_cookies_play_no_part(source: Source) -> None:
    client = Client(enforce_csrf_checks=True)
    client.cookies["sessionid"] = "whatever"
    response = client.post(
        "/v1/page",
        data=json.dumps({**_track(3), "type": "page", "writeKey": key_of(source)}),
        content_type="text/plain",
    )
    assert response.status_code == 200
    assert [morsel.value for morsel in response.cookies.values()] in ([], [""])  # at most the stale one deleted
