from django.apps import AppConfig


class PlanningSyncConfig(AppConfig):
    name = "planning_sync"
    verbose_name = "Planning sync"

    def ready(self) -> None:
        from planning_sync import checks  # noqa: F401  (registers the system checks)
