from django.apps import AppConfig


class PlanningSyncConfig(AppConfig):
    name = "planning_sync"
    verbose_name = "Planning sync"
