"""Pages of the tracking app."""

from django.urls import URLPattern

app_name = "tracking"

urlpatterns: list[URLPattern] = []
