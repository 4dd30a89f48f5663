"""Web pages for merging."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
