"""REST endpoints of the sales app; `register` adds them to /api/."""

from rest_framework.routers import DefaultRouter

from guanxi.sales.api.views import OpportunityViewSet, PipelineViewSet, QuoteViewSet, StageViewSet


def register(router: DefaultRouter) -> None:
    router.register("pipelines", PipelineViewSet, basename="pipeline")
    router.register("stages", StageViewSet, basename="stage")
    router.register("opportunities", OpportunityViewSet, basename="opportunity")
    router.register("quotes", QuoteViewSet, basename="quote")
