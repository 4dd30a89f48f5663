"""Fixtures of the tracking tests: a source with its clear key, processing off unless asked for."""

from collections.abc import Iterator
from typing import Any

import pytest

from guanxi.tracking.models import Source
from guanxi.tracking.services.landing import reset_schedule_clock
from guanxi.tracking.tests.factories import SourceFactory


@pytest.fixture(autouse=True)
def _no_processing_on_landing(settings: Any) -> Iterator[None]:
    """Endpoint tests look at the landing table as the request left it; processing tests call
    the processor themselves (one test turns automatic processing back on)."""
    settings.TRACKING_PROCESS_ON_LANDING = False
    reset_schedule_clock()
    yield
    reset_schedule_clock()


@pytest.fixture
def source(db: None) -> Source:
    return SourceFactory.create(name="Web shop")


def key_of(source: Source) -> str:
    return str(source.write_key)  # type: ignore[attr-defined]  # set by SourceFactory
