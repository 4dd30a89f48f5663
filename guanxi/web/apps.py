from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "guanxi.web"
    label = "web"
    verbose_name = "Web"
