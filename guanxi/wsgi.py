"""WSGI entry point (waitress in the embedded set-up, any WSGI server in production)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings.base")
application = get_wsgi_application()
