"""REST endpoints for imports, exports, duplicates and merges; `register` adds them to /api/."""

from rest_framework.routers import DefaultRouter

from guanxi.dataio.api import exporting, importing, merging


def register(router: DefaultRouter) -> None:
    importing.register(router)
    exporting.register(router)
    merging.register(router)
