"""Pages of the profitability app, under /profitability/."""

from django.urls import URLPattern, path

app_name = "profitability"

urlpatterns: list[URLPattern] = []
