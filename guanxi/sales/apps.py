from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "guanxi.sales"
    verbose_name = _("Sales")

    def ready(self) -> None:
        """Show each customer's opportunities on account and contact pages and on their timelines."""
        from guanxi.sales import panels, timeline  # queries and templates need the app registry ready

        panels.register()
        timeline.register()
