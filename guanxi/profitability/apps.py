from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProfitabilityConfig(AppConfig):
    name = "guanxi.profitability"
    verbose_name = _("Profitability")

    def ready(self) -> None:
        """Show each customer's profitability, service level and price list on account and contact pages."""
        from datetime import timedelta

        from guanxi.core.schedule import register_periodic
        from guanxi.profitability import tasks
        from guanxi.profitability.panels import register  # queries and templates need the app registry ready

        register()
        register_periodic("profitability.run", timedelta(days=1), tasks.run_profitability)
