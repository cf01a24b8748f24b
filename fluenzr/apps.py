from django.apps import AppConfig


class FluenzrConfig(AppConfig):
    name = "fluenzr"
    verbose_name = "FluenzR"

    def ready(self) -> None:
        from fluenzr import checks  # noqa: F401 - registers the system checks
        from fluenzr.api import schema  # noqa: F401 - registers the auth extension
