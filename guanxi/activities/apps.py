from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

PANEL_RECORD_TYPES = ("customers.account", "customers.person", "leads.lead", "sales.opportunity")


class ActivitiesConfig(AppConfig):
    name = "guanxi.activities"
    verbose_name = _("Follow-up")

    def ready(self) -> None:
        """Put follow-up records and open tasks on the pages of the records they are about, the
        relationship-health panel near the top of customer pages, and follow-ups on their timelines."""
        from guanxi.activities import relationship, timeline  # views need the app registry ready
        from guanxi.activities.views.records import render_panel
        from guanxi.core.panels import register_panel

        for record_type in PANEL_RECORD_TYPES:
            register_panel(record_type, "follow-up", render_panel, order=20)
        for record_type in ("customers.account", "customers.person"):
            register_panel(record_type, "relationship-health", relationship.render_panel, order=1)
        timeline.register()
        from datetime import timedelta

        from guanxi.activities import tasks
        from guanxi.core.schedule import register_periodic

        register_periodic("activities.apply_pool_rules", timedelta(days=1), tasks.apply_pool_rules)
        register_periodic("activities.send_task_reminders", timedelta(minutes=5), tasks.send_task_reminders)
