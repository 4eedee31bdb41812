from django.apps import AppConfig


class ExceptionsConfig(AppConfig):
    name = "exceptions"
    verbose_name = "Exceptions"

    def ready(self) -> None:
        # Register the internal connector kind and every rule's event handlers.
        from exceptions import connector, rules, supply_risk  # noqa: F401
