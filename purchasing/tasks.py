from celery import shared_task

from purchasing import services


@shared_task
def sweep_acknowledgement_deadlines() -> tuple[int, int]:
    """Reminders before the acknowledgement deadline and overdue marks after it (from beat)."""
    return services.acknowledgement_deadlines_sweep()
