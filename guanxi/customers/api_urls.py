"""The REST API under /api/: a router for the customer-record endpoints and the token sign-in."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from guanxi.customers import api
from guanxi.staff.api import ObtainTokenView

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.register("accounts", api.AccountViewSet, basename="account")
router.register("people", api.PersonViewSet, basename="person")
router.register("roles", api.RoleViewSet, basename="role")
router.register("relationships", api.RelationshipViewSet, basename="relationship")
router.register("tags", api.TagViewSet, basename="tag")
router.register("attribute-definitions", api.AttributeDefinitionViewSet, basename="attribute-definition")

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="token"),
    *router.urls,
]
