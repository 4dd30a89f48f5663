from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackingConfig(AppConfig):
    name = "guanxi.tracking"
    verbose_name = _("Tracking")

    def ready(self) -> None:
        """Put each person's web and app sessions on their timeline (and their account's)."""
        from guanxi.tracking.timeline import register  # models need the app registry ready

        register()
