"""The REST API under /api/: one router for every app's endpoints, and the token sign-in.

It lives at project level, beside `urls.py`, because it names every app and no app may import
the ones that build on it.
"""

from django.urls import path
from rest_framework.routers import DefaultRouter

from guanxi.activities import api as activities_api
from guanxi.analytics import api as analytics_api
from guanxi.commerce import api as commerce_api
from guanxi.customers.api import configuration, links, lookup, parties
from guanxi.dataio import api as dataio_api
from guanxi.leads import api as leads_api
from guanxi.profitability import api as profitability_api
from guanxi.sales import api as sales_api
from guanxi.staff.api import ObtainTokenView
from guanxi.tracking import api as tracking_api

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.register("accounts", parties.AccountViewSet, basename="account")
router.register("people", parties.PersonViewSet, basename="person")
router.register("roles", links.RoleViewSet, basename="role")
router.register("relationships", links.RelationshipViewSet, basename="relationship")
router.register("tags", configuration.TagViewSet, basename="tag")
router.register("attribute-definitions", configuration.AttributeDefinitionViewSet, basename="attribute-definition")

commerce_api.register(router)
sales_api.register(router)
leads_api.register(router)
activities_api.register(router)
tracking_api.register(router)
analytics_api.register(router)
profitability_api.register(router)
dataio_api.register(router)

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="token"),
    path("owner-lookup/", lookup.OwnerLookupView.as_view(), name="owner-lookup"),
    *router.urls,
]
