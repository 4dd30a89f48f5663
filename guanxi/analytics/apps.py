from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "guanxi.analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        """Show each customer's scores and next offers on account and contact pages."""
        from datetime import timedelta

        from guanxi.analytics import tasks
        from guanxi.analytics.panels import register  # queries and templates need the app registry ready
        from guanxi.core.schedule import register_periodic

        register()
        register_periodic("analytics.run_scoring", timedelta(days=1), tasks.run_scoring)
        register_periodic("analytics.run_rules", timedelta(days=1), tasks.run_rules)
        register_periodic("analytics.rebuild_purchase_summaries", timedelta(days=7), tasks.rebuild_purchase_summaries)
