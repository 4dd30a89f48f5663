from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "guanxi.customers"
    label = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        """Put the record's own changes, lifecycle moves and consent decisions on its timeline."""
        from guanxi.customers.timeline import register  # models need the app registry ready

        register()
