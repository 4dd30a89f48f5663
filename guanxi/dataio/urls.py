"""Pages under /data/: imports, exports, duplicates and merges."""

from django.urls import URLPattern

from guanxi.dataio.views import exporting, importing, merging

app_name = "dataio"

urlpatterns: list[URLPattern] = [*importing.urlpatterns, *exporting.urlpatterns, *merging.urlpatterns]
