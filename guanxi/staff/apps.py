from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "guanxi.staff"
    label = "staff"
    verbose_name = "Staff"
