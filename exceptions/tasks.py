"""Celery entry points of the exceptions app: the periodic sweeps (beat). Both are safe to run twice."""

from celery import shared_task

from exceptions import rules, services


@shared_task(ignore_result=True)
def sweep_exception_rules() -> dict[str, tuple[int, int]]:
    """The time-driven rules (deadlines passed, notices late, dead letters): open and clear their cases."""
    return rules.rules_sweep()


@shared_task(ignore_result=True)
def wake_snoozed_cases() -> int:
    """Snoozed cases whose time came back to the queue."""
    return services.cases_wake()
