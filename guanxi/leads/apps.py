from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "guanxi.leads"
    verbose_name = _("Leads")

    def ready(self) -> None:
        """Show "Converted from lead …" on the pages of the records a lead became."""
        from guanxi.leads import panels  # imported here: panels import models, not ready at import time

        panels.register()
