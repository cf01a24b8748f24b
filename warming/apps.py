from django.apps import AppConfig


class WarmingConfig(AppConfig):
    name = "warming"
    verbose_name = "Warming"
