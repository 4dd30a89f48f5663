"""REST endpoints for importing."""

from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """Add this area's viewsets to the project router."""
