"""The REST API under /api/: a router for the customer-record endpoints and the token sign-in."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from guanxi.customers.api import configuration, links, parties
from guanxi.staff.api import ObtainTokenView

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.register("accounts", parties.AccountViewSet, basename="account")
router.register("people", parties.PersonViewSet, basename="person")
router.register("roles", links.RoleViewSet, basename="role")
router.register("relationships", links.RelationshipViewSet, basename="relationship")
router.register("tags", configuration.TagViewSet, basename="tag")
router.register("attribute-definitions", configuration.AttributeDefinitionViewSet, basename="attribute-definition")

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="token"),
    *router.urls,
]
