"""The Segment-compatible ingestion endpoints under /v1/ (identify, track, page, screen, group, alias, batch)."""

from django.urls import URLPattern, path

from guanxi.tracking import ingest, snippet

app_name = "ingest"

urlpatterns: list[URLPattern] = [
    path("identify", ingest.identify, name="identify"),
    path("track", ingest.track, name="track"),
    path("page", ingest.page, name="page"),
    path("screen", ingest.screen, name="screen"),
    path("group", ingest.group, name="group"),
    path("alias", ingest.alias, name="alias"),
    path("batch", ingest.batch, name="batch"),
    path("import", ingest.batch, name="import"),
    path("guanxi.js", snippet.snippet, name="snippet"),
]
