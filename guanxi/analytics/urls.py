"""Pages of the analytics app."""

from django.urls import URLPattern

app_name = "analytics"

urlpatterns: list[URLPattern] = []
