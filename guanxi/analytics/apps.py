from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "guanxi.analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        """Show each customer's scores and next offers on account and contact pages."""
        from guanxi.analytics.panels import register  # queries and templates need the app registry ready

        register()
