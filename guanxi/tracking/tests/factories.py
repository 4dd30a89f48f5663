"""Tracking factories that go through the services, so sources have hashed keys and history."""

from typing import Any

from django.db.models import QuerySet
from factory.base import Factory
from factory.declarations import Sequence

from guanxi.customers.tests.factories import _system_admin
from guanxi.tracking import services
from guanxi.tracking.models import LandedEvent, Source


class SourceFactory(Factory[Source]):
    """Creates a source; its clear write key is on `source.write_key` for the test to send."""

    class Meta:
        model = Source

    name = Sequence(lambda n: f"Shop site {n}")

    @classmethod
    def _create(cls, model_class: type[Source], *args: Any, **kwargs: Any) -> Source:
        actor = kwargs.pop("actor", None) or _system_admin()
        source, key = services.create_source(actor, kwargs)
        source.write_key = key  # type: ignore[attr-defined]  # the clear key exists only at creation
        return source


def landed_events() -> QuerySet[LandedEvent]:
    """The landed events, once every landed batch is unpacked into them, as processing does
    before anything else (the ingestion tests read what a request stored)."""
    while services.unpack_batches(10_000):
        pass
    return LandedEvent.objects.all()
