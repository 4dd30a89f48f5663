"""Fixtures for the analytics tests: roles that may or may not see the dashboard."""

import pytest

from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory


@pytest.fixture
def analyst(db: None) -> User:
    return UserFactory.create(username="analyst", role=StaffRole.ANALYST)


@pytest.fixture
def marketer(db: None) -> User:
    return UserFactory.create(username="marketer", role=StaffRole.MARKETER)


@pytest.fixture
def agent(db: None) -> User:
    return UserFactory.create(username="agent", role=StaffRole.SERVICE_AGENT)
