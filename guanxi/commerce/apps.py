from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommerceConfig(AppConfig):
    name = "guanxi.commerce"
    verbose_name = _("Products and orders")

    def ready(self) -> None:
        """Show each customer's orders (and, for a person, the lines they use) on customer pages,
        and their orders and payments on the customer's timeline."""
        from guanxi.commerce import panels, timeline  # queries and templates need the app registry ready

        panels.register()
        timeline.register()
