from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackingConfig(AppConfig):
    name = "guanxi.tracking"
    verbose_name = _("Tracking")

    def ready(self) -> None:
        """Put each person's web and app sessions on their timeline (and their account's), and
        their computed traits in a panel on their page."""
        from guanxi.tracking.panels import register as register_panels  # models need the app registry ready
        from guanxi.tracking.timeline import register

        register()
        register_panels()
        from datetime import timedelta

        from guanxi.core.schedule import register_periodic
        from guanxi.tracking import tasks

        # Landing queues processing itself; this catches up after a crash or a stopped worker.
        register_periodic("tracking.process_events", timedelta(minutes=1), tasks.process_events)
