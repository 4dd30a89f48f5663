"""Customer factories that go through the services, so test data has history and search keys."""

from typing import Any

from factory.base import Factory
from factory.declarations import Sequence

from guanxi.customers import services
from guanxi.customers.models import Account, Person
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory


def _system_admin() -> User:
    admin = User.objects.filter(username="factory-admin").first()
    return admin or UserFactory.create(username="factory-admin", role=StaffRole.ADMIN)


class AccountFactory(Factory[Account]):
    class Meta:
        model = Account

    name = Sequence(lambda n: f"Account {n} Ltd")

    @classmethod
    def _create(cls, model_class: type[Account], *args: Any, **kwargs: Any) -> Account:
        actor = kwargs.pop("actor", None) or _system_admin()
        tags = kwargs.pop("tags", ())
        attributes = kwargs.pop("attributes", None)
        stage = kwargs.pop("lifecycle_stage", "prospect")
        addresses = kwargs.pop("addresses", ())
        return services.create_account(
            actor, kwargs, tags=tags, attributes=attributes, lifecycle_stage=stage, addresses=addresses
        )


class PersonFactory(Factory[Person]):
    class Meta:
        model = Person

    family_name = Sequence(lambda n: f"Family{n}")
    given_name = "Alex"

    @classmethod
    def _create(cls, model_class: type[Person], *args: Any, **kwargs: Any) -> Person:
        actor = kwargs.pop("actor", None) or _system_admin()
        emails = kwargs.pop("emails", ())
        phones = kwargs.pop("phones", ())
        tags = kwargs.pop("tags", ())
        attributes = kwargs.pop("attributes", None)
        stage = kwargs.pop("lifecycle_stage", "prospect")
        return services.create_person(
            actor, kwargs, emails=emails, phones=phones, tags=tags, attributes=attributes, lifecycle_stage=stage
        )
