"""The official, unmodified Segment Python SDK against a running Guanxi: events arrive and are processed."""

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The Segment SDK ships no type information; the tests drive it exactly as a site would.
from segment.analytics import request as segment_request  # type: ignore[import-untyped]
from segment.analytics.client import Client as SegmentClient  # type: ignore[import-untyped]
from segment.analytics.request import APIError  # type: ignore[import-untyped]

from guanxi.customers.models import Person
from guanxi.tracking import services
from guanxi.tracking.models import Identifier, Profile
from guanxi.tracking.tests.conftest import key_of
from guanxi.tracking.tests.factories import SourceFactory, landed_events

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _close_sdk_connections() -> Iterator[None]:
    """The SDK keeps one module-wide keep-alive session; closing it ends the live server's
    request thread and its database connection, so the test database can be dropped."""
    yield
    segment_request._session.close()


@pytest.mark.parametrize("gzip", [False, True])
def test_python_sdk_events_arrive_and_are_processed(transactional_db: None, live_server: Any, gzip: bool) -> None:
    source = SourceFactory.create(name="Python SDK")
    errors: list[Exception] = []
    client = SegmentClient(
        key_of(source),
        host=live_server.url,
        gzip=gzip,
        sync_mode=False,
        upload_size=10,
        max_retries=1,
        on_error=lambda error, _batch: errors.append(error),
    )
    anonymous_id = str(uuid.uuid4())
    client.page(anonymous_id=anonymous_id, name="Home", properties={"path": "/"})
    for n in range(12):
        client.track(anonymous_id=anonymous_id, event="Viewed Product", properties={"sku": f"SKU-{n}", "price": 9.5})
    client.identify(
        "user-42", {"email": "sdk@example.com", "firstName": "Mei", "lastName": "Lin"}, anonymous_id=anonymous_id
    )
    client.track("user-42", "Order Completed", {"revenue": 99.0})
    client.alias("user-42", "user-42-new")
    client.flush()
    client.shutdown()
    assert errors == []
    assert landed_events().filter(source=source).count() == 16
    assert set(landed_events().values_list("type", flat=True)) == {"page", "track", "identify", "alias"}
    assert services.process_landed_events()["processed"] == 16
    profile = Identifier.objects.get(type="user_id", value="user-42").profile
    assert profile.merged_into_id is None
    assert {"anonymous_id", "user_id", "email"} <= set(profile.identifiers.values_list("type", flat=True))
    assert Identifier.objects.get(value=anonymous_id).profile_id == profile.pk
    assert Profile.objects.get(pk=Identifier.objects.get(value="user-42-new").profile_id).pk == profile.pk
    person = Person.objects.get()
    assert (person.family_name, person.given_name, person.source) == ("Lin", "Mei", "tracking")
    assert profile.person == person


def test_python_sdk_retry_with_same_message_id_is_stored_once(transactional_db: None, live_server: Any) -> None:
    source = SourceFactory.create()
    client = SegmentClient(key_of(source), host=live_server.url, sync_mode=True)
    for _ in range(3):
        client.track(anonymous_id="a", event="Clicked", message_id="fixed-id")
    assert landed_events().count() == 1


def test_python_sdk_with_a_revoked_key_reports_an_error(transactional_db: None, live_server: Any) -> None:
    source = SourceFactory.create()
    services.revoke_source(source.created_by, source)  # type: ignore[arg-type]  # created by the factory admin
    client = SegmentClient(key_of(source), host=live_server.url, sync_mode=True, max_retries=0)
    with pytest.raises(APIError) as caught:
        client.track(anonymous_id="a", event="Clicked")
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")
    assert landed_events().count() == 0


NODE_SDK = ROOT / "node_modules" / "@segment" / "analytics-node"


@pytest.mark.skipif(shutil.which("node") is None or not NODE_SDK.exists(), reason="run `npm ci` for the Node SDK")
def test_node_sdk_events_arrive_and_are_processed(transactional_db: None, live_server: Any) -> None:
    source = SourceFactory.create(name="Node SDK")
    script = Path(__file__).parent / "node" / "send_events.mjs"
    env = {**os.environ, "GUANXI_HOST": live_server.url, "GUANXI_WRITE_KEY": key_of(source)}
    done = subprocess.run(  # noqa: S603  -- our own script, run by the node found on PATH
        [shutil.which("node") or "node", str(script)], env=env, cwd=ROOT, capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert landed_events().filter(source=source).count() == 9
    assert services.process_landed_events()["processed"] == 9
    profile = Identifier.objects.get(type="user_id", value="node-user-1").profile
    assert Identifier.objects.get(value="node-anon-1").profile_id == profile.pk
    assert profile.person is not None
    assert profile.person.full_name in ("Wu Jun", "Jun Wu")
