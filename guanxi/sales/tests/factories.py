"""Sales factories that go through the services, so test deals have stage history and history rows."""

from typing import Any

from factory.base import Factory
from factory.declarations import Sequence

from guanxi.customers.tests.factories import AccountFactory, _system_admin
from guanxi.sales import services
from guanxi.sales.models import Opportunity, Pipeline


class PipelineFactory(Factory[Pipeline]):
    class Meta:
        model = Pipeline

    name = Sequence(lambda n: f"Pipeline {n}")

    @classmethod
    def _create(cls, model_class: type[Pipeline], *args: Any, **kwargs: Any) -> Pipeline:
        actor = kwargs.pop("actor", None) or _system_admin()
        return services.create_pipeline(actor, kwargs)


class OpportunityFactory(Factory[Opportunity]):
    """A deal with a new account unless one is given; owned by `actor` (an admin by default)."""

    class Meta:
        model = Opportunity

    name = Sequence(lambda n: f"Deal {n}")

    @classmethod
    def _create(cls, model_class: type[Opportunity], *args: Any, **kwargs: Any) -> Opportunity:
        actor = kwargs.pop("actor", None) or _system_admin()
        contacts = kwargs.pop("contacts", ())
        lines = kwargs.pop("lines", ())
        if "account" not in kwargs and "person" not in kwargs:
            kwargs["account"] = AccountFactory.create(owner=kwargs.get("owner", actor))
        return services.create_opportunity(actor, kwargs, contacts=contacts, lines=lines)
