"""Fixtures shared by every app's tests."""

from collections.abc import Iterator

import pytest
from django.utils import translation

from guanxi.staff.models import StaffRole, Team, User
from guanxi.staff.tests.factories import TeamFactory, UserFactory


@pytest.fixture
def admin_user(db: None) -> User:
    return UserFactory.create(username="admin", role=StaffRole.ADMIN)


@pytest.fixture
def team(db: None) -> Team:
    manager = UserFactory.create(username="manager", role=StaffRole.SALES_MANAGER)
    return TeamFactory.create(name="East", manager=manager)


@pytest.fixture
def manager(team: Team) -> User:
    assert team.manager is not None
    return team.manager


@pytest.fixture
def rep(team: Team) -> User:
    return UserFactory.create(username="rep", role=StaffRole.SALES_REP, team=team)


@pytest.fixture
def other_rep(team: Team) -> User:
    return UserFactory.create(username="other_rep", role=StaffRole.SALES_REP, team=team)


@pytest.fixture
def outside_rep(db: None) -> User:
    """A rep in no team the manager manages."""
    return UserFactory.create(username="outside_rep", role=StaffRole.SALES_REP)


@pytest.fixture(autouse=True)
def _english_by_default() -> Iterator[None]:
    """Each test starts in the default language, whatever language an earlier test switched to."""
    translation.activate("en")
    yield
    translation.deactivate()
