"""Tracking factories that go through the services, so sources have hashed keys and history."""

from typing import Any

from factory.base import Factory
from factory.declarations import Sequence

from guanxi.customers.tests.factories import _system_admin
from guanxi.tracking import services
from guanxi.tracking.models import Source


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
