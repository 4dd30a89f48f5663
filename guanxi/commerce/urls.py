"""Pages of the commerce app."""

from django.urls import URLPattern

app_name = "commerce"

urlpatterns: list[URLPattern] = []
