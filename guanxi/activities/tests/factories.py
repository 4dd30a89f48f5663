"""Factories for follow-up records and tasks that go through the services, so test rows have history."""

from datetime import timedelta
from typing import Any

from django.utils import timezone
from factory.base import Factory
from factory.declarations import LazyFunction, Sequence

from guanxi.activities import services
from guanxi.activities.models import Activity, ActivityKind, Task
from guanxi.customers.tests.factories import _system_admin


class ActivityFactory(Factory[Activity]):
    class Meta:
        model = Activity

    subject = Sequence(lambda n: f"Call {n}")
    kind = ActivityKind.CALL

    @classmethod
    def _create(cls, model_class: type[Activity], *args: Any, **kwargs: Any) -> Activity:
        actor = kwargs.pop("actor", None) or _system_admin()
        targets = {name: kwargs.pop(name, None) for name in ("account", "person", "lead", "opportunity")}
        return services.log_activity(actor, kwargs, **targets)


class TaskFactory(Factory[Task]):
    class Meta:
        model = Task

    title = Sequence(lambda n: f"Task {n}")
    due_at = LazyFunction(lambda: timezone.now() + timedelta(days=1))

    @classmethod
    def _create(cls, model_class: type[Task], *args: Any, **kwargs: Any) -> Task:
        actor = kwargs.pop("actor", None) or _system_admin()
        targets = {name: kwargs.pop(name, None) for name in ("account", "person", "lead", "opportunity")}
        return services.create_task(actor, kwargs, **targets)
