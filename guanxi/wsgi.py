"""WSGI entry point (waitress in the embedded set-up, any WSGI server in production).

The Segment-compatible ingestion endpoints (/v1/identify, track, page, screen, group, alias,
batch, import) are answered by `guanxi.tracking.ingest.IngestApplication` before Django's
middleware and URL resolver: they authenticate by write key, so sessions, CSRF, locale and
messages only cost time there (`benchmarks/bench_tracking_ingest.py`). Every other path, the
/v1/guanxi.js snippet included, is Django's.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings.base")
django_application = get_wsgi_application()

from guanxi.tracking.ingest import IngestApplication  # noqa: E402  -- needs the apps loaded by get_wsgi_application

application = IngestApplication(django_application)
