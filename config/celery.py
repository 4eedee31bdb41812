"""Celery for Supplyline.

Three queues, named for their business priority:
- ``critical``: supplier commitments that must reach the ERP (acknowledgements, ASNs);
- ``default``: notifications, reminders, housekeeping;
- ``bulk``: imports and replays, which may be large and must never delay the others.

Run one worker per queue group in production (``-Q critical`` with its own
concurrency) so a flood of bulk work cannot starve critical deliveries.

Reliability: PostgreSQL rows (the outbox, delivery records) are the source of
truth and a Celery message is only a wake-up, so domain tasks are written to be
safe to run twice (docs/architecture.md). Mail is the one exception: a worker
killed after sending but before acknowledging sends that mail again, which we
prefer to losing it.
"""

import os
from datetime import timedelta
from typing import Any

from celery import Celery, Task
from celery.schedules import crontab
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.db import close_old_connections
from kombu import Exchange, Queue

from config import log_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("supplyline")

# Redis redelivers a message that was taken but not acknowledged once this many
# seconds pass. Tasks acknowledge late (after running), so every task's hard time
# limit must stay well below it or a slow task would run twice in parallel.
VISIBILITY_TIMEOUT_S = 60 * 60
TASK_TIME_LIMIT_S = 5 * 60
TASK_SOFT_TIME_LIMIT_S = 4 * 60

QUEUE_NAMES = ("critical", "default", "bulk")
WORKER_MAX_TASKS_PER_CHILD = 1000


def _broker_transport_options() -> dict[str, object]:
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = settings.CELERY_FILESYSTEM_BROKER_DIR
        for sub in ("out", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        # The filesystem transport reads and writes the same folder from every process.
        return {
            "data_folder_in": str(folder / "out"),
            "data_folder_out": str(folder / "out"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    return {
        "visibility_timeout": VISIBILITY_TIMEOUT_S,
        # Redis has no priorities of its own; separate queues do that job.
        "queue_order_strategy": "priority",
    }


app.conf.update(
    broker_url=settings.CELERY_BROKER_URL,
    broker_transport_options=_broker_transport_options(),
    broker_connection_retry_on_startup=True,
    # We never read task results: the database holds every outcome.
    task_ignore_result=True,
    result_backend=None,
    task_serializer="json",
    accept_content=["json"],
    timezone=settings.TIME_ZONE,
    enable_utc=True,
    task_always_eager=settings.CELERY_TASK_ALWAYS_EAGER,
    task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUE_NAMES],
    task_default_queue="default",
    task_default_exchange="default",
    task_default_routing_key="default",
    # The first matching pattern wins: imports go to bulk even from planning_sync.
    # The dispatcher's wake-ups name their queue by priority (planning_sync.tasks).
    task_routes=[
        {"*.tasks.import_*": {"queue": "bulk"}},
        {"planning_sync.tasks.*": {"queue": "critical"}},
    ],
    # Acknowledge after the task ran, so a worker killed mid-task leaves the
    # message to be redelivered; tasks are idempotent, so a rerun is harmless.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # Take one message at a time: with late acks, prefetching would hold work
    # hostage in a busy or dying worker.
    worker_prefetch_multiplier=1,
    task_time_limit=TASK_TIME_LIMIT_S,
    task_soft_time_limit=TASK_SOFT_TIME_LIMIT_S,
    # Recycle workers now and then so a slow leak cannot grow without bound.
    worker_max_tasks_per_child=WORKER_MAX_TASKS_PER_CHILD,
    # Celery's Django fix-up closes every database connection before and after each task unless
    # this is set, and a new connection costs more than a delivery's whole claim; with it set the
    # fix-up leaves connections alone and Django's own rules (CONN_MAX_AGE, health checks) apply,
    # through the task_prerun/task_postrun handlers below.
    CELERY_DB_REUSE_MAX=WORKER_MAX_TASKS_PER_CHILD,
    worker_send_task_events=False,
    # Keep Django's LOGGING (JSON lines with event ids) in workers and beat instead of Celery's own.
    worker_hijack_root_logger=False,
    task_track_started=False,
    beat_schedule={
        # The outbox's safety net: rows are the truth, messages only wake-ups.
        "sweep-deliveries": {
            "task": "planning_sync.tasks.sweep_deliveries",
            "schedule": timedelta(seconds=settings.PLANNING_SYNC_SWEEP_S),
        },
        # The delivered events past PLANNING_SYNC_RETENTION_DAYS, and their deliveries.
        "prune-outbox": {
            "task": "planning_sync.tasks.prune_outbox",
            "schedule": crontab(hour=4, minute=11),
        },
        "import-feeds": {
            "task": "planning_sync.tasks.import_feeds",
            "schedule": timedelta(seconds=settings.PLANNING_SYNC_PULL_S),
        },
        "sweep-acknowledgement-deadlines": {
            "task": "purchasing.tasks.sweep_acknowledgement_deadlines",
            "schedule": timedelta(minutes=5),
        },
        "sweep-shipments-departed": {
            "task": "purchasing.tasks.sweep_shipments_departed",
            "schedule": timedelta(minutes=15),
        },
        "sweep-unsent-purchase-orders": {
            "task": "purchasing.tasks.sweep_unsent_purchase_orders",
            "schedule": timedelta(minutes=15),
        },
        "import-document-folders": {
            "task": "purchasing.tasks.import_document_folders",
            "schedule": timedelta(seconds=settings.SUPPLYLINE_EDI_SCAN_S),
        },
        # The exception rules that time alone makes true (deadlines, late notices, dead letters).
        "sweep-exception-rules": {
            "task": "exceptions.tasks.sweep_exception_rules",
            "schedule": timedelta(minutes=5),
        },
        "wake-snoozed-cases": {
            "task": "exceptions.tasks.wake_snoozed_cases",
            "schedule": timedelta(minutes=1),
        },
        "clear-expired-sessions": {
            "task": "suppliers.tasks.clear_expired_sessions",
            "schedule": crontab(hour=3, minute=17),
        },
        # Compliance documents: reminders 30 and 7 days before expiry, and cases for expired ones.
        "sweep-compliance-documents": {
            "task": "suppliers.tasks.sweep_compliance_documents",
            "schedule": crontab(hour=6, minute=5),
        },
        "prune-idempotency-records": {
            "task": "suppliers.tasks.prune_idempotency_records",
            "schedule": timedelta(hours=1),
        },
    },
    beat_schedule_filename=str(settings.DATA_DIR / "celerybeat-schedule"),
    beat_max_loop_interval=timedelta(seconds=30).total_seconds(),
)
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task: Task[Any, Any] | None = None, **kwargs: object) -> None:
    """What Django does around each request: drop connections past CONN_MAX_AGE or broken ones.

    Not for eager tasks, which run inside their caller's transaction.
    """
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()


@task_prerun.connect
def _open_audit_context(task_id: str, task: Task[Any, Any], **kwargs: object) -> None:
    """A task's changes are recorded with its name (config.audit.context); connected after the connection check."""
    from config.audit import context  # imported late: this module is loaded while the settings are

    context.task_started(task_id=task_id, name=task.name)
    log_context.task_running(task_id)


@task_postrun.connect
def _close_audit_context(task_id: str, **kwargs: object) -> None:
    from config.audit import context

    context.task_finished(task_id=task_id)
    log_context.task_done()
