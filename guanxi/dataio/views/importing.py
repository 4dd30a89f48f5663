"""Web pages for importing."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
