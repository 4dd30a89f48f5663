"""Staff factories: real users and teams, made through the staff services."""

from typing import Any

from factory.base import Factory
from factory.declarations import Sequence

from guanxi.staff import services
from guanxi.staff.models import StaffRole, Team, User


class TeamFactory(Factory[Team]):
    class Meta:
        model = Team

    name = Sequence(lambda n: f"Team {n}")
    manager = None

    @classmethod
    def _create(cls, model_class: type[Team], *args: Any, **kwargs: Any) -> Team:
        return services.create_team(kwargs["name"], kwargs.get("manager"))


class UserFactory(Factory[User]):
    class Meta:
        model = User

    username = Sequence(lambda n: f"user{n}")
    password = "correct horse battery"
    role = StaffRole.SALES_REP
    team = None
    first_name = ""
    last_name = ""

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        return services.create_user(
            kwargs.pop("username"), kwargs.pop("password"), **{k: v for k, v in kwargs.items() if v is not None}
        )


def make_team_with_manager(name: str = "East") -> tuple[Team, User]:
    manager = UserFactory.create(role=StaffRole.SALES_MANAGER)
    team = TeamFactory.create(name=name, manager=manager)
    manager.refresh_from_db()
    return team, manager
