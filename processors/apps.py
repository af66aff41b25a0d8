from django.apps import AppConfig


class ProcessorsConfig(AppConfig):
    name = "processors"
    verbose_name = "Processors"

    def ready(self) -> None:
        from processors import checks  # noqa: F401  (registers the system checks)
