"""Celery entry points of the integration layer. A message is only a wake-up: the work is in the rows."""

import logging

from celery import shared_task
from kombu.exceptions import KombuError

from planning_sync import delivery
from planning_sync.models import OutboxEvent

logger = logging.getLogger("supplyline.delivery")

# Which Celery queue wakes the dispatcher of each priority class: a flood of bulk
# work queues behind other bulk work, never in front of a supplier's commitment.
QUEUE_OF_PRIORITY: dict[int, str] = {
    OutboxEvent.Priority.CRITICAL: "critical",
    OutboxEvent.Priority.DEFAULT: "default",
    OutboxEvent.Priority.BULK: "bulk",
}


@shared_task(ignore_result=True)
def dispatch_deliveries(priority: int) -> int:
    """Send every due delivery of one priority class (safe to run any number of times at once)."""
    return delivery.dispatch(priority=priority)


@shared_task(ignore_result=True)
def sweep_deliveries() -> int:
    """The periodic safety net (beat, every few seconds): dispatch whatever is due in every class.

    It heals what a lost wake-up message, a crashed worker or a broker outage left behind.
    """
    return sum(delivery.dispatch(priority=priority, budget_s=5.0) for priority in QUEUE_OF_PRIORITY)


def wake_dispatcher(priority: int) -> None:
    """Ask a worker to dispatch now; if the broker is unreachable the sweep will do it instead."""
    try:
        dispatch_deliveries.apply_async(args=(priority,), queue=QUEUE_OF_PRIORITY.get(priority, "default"), retry=False)
    except (KombuError, OSError) as error:
        logger.warning("could not wake the dispatcher; the sweep will deliver", extra={"error": str(error)})


@shared_task(ignore_result=True)
def import_feeds() -> int:
    """Pull every inbound feed that a connector is set up to pull (beat); returns the documents seen."""
    from planning_sync import feeds

    results = feeds.pull_all()
    return sum(r.applied + r.unchanged + len(r.quarantined) for r in results.values())


@shared_task(ignore_result=True)
def prune_outbox() -> int:
    """Nightly from beat: delete the delivered events past PLANNING_SYNC_RETENTION_DAYS (planning_sync/retention.py)."""
    from planning_sync import retention

    pruned = retention.prune_outbox()
    if pruned.events:
        logger.info(
            "outbox pruned",
            extra={"events": pruned.events, "deliveries": pruned.deliveries, "before": str(pruned.before)},
        )
    return pruned.events
