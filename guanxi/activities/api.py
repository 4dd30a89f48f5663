"""REST endpoints of the activities app; `register` adds them to /api/."""

from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """Nothing yet."""
