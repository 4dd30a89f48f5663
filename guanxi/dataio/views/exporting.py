"""Web pages for exporting."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
