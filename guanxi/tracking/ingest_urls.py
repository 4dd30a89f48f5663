"""The Segment-compatible ingestion endpoints under /v1/ (identify, track, page, screen, group, alias, batch)."""

from django.urls import URLPattern

app_name = "ingest"

urlpatterns: list[URLPattern] = []
