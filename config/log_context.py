"""The request id on every log line written while a request is served, and the task id on every line a
Celery task writes (``LOGGING`` in settings).

Kept apart from the middleware, which imports models: logging is configured before the apps load.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from django.core.signals import request_finished

# The id of the request being served in this thread; "-" outside a request (tasks, commands, start-up).
_request_id: ContextVar[str] = ContextVar("supplyline_request_id", default="-")
# The id of the Celery task running in this process; "-" outside a task.
_task_id: ContextVar[str] = ContextVar("supplyline_task_id", default="-")


def serving(request_id: str) -> None:
    """From now until the response is closed (``request_finished``), log lines carry ``request_id``.

    Not reset when the middleware returns: Django logs a 4xx or 5xx (``django.request``) after the
    whole middleware chain, and that is the line most worth finding by id.
    """
    _request_id.set(request_id)


def served(**kwargs: object) -> None:
    """``request_finished``: the response is closed; what is logged next belongs to no request."""
    _request_id.set("-")


def task_running(task_id: str) -> None:
    """Celery's ``task_prerun`` (config/celery.py): log lines carry ``task_id`` until the task ends."""
    _task_id.set(task_id)


def task_done() -> None:
    _task_id.set("-")


class RequestIdFilter(logging.Filter):
    """Put ``request_id`` and ``task_id`` on every record, so a log line, the ``X-Request-ID`` the caller got
    (or the task's id) and the audit trail's events of that request or task can be matched up."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.task_id = _task_id.get()
        return True


# Connected here, not in an app's ready(): LOGGING imports this module in every process that logs.
request_finished.connect(served, dispatch_uid="supplyline-log-context")


class PlainFormatter(logging.Formatter):
    """The development console's lines: ``[request id]`` in a request, ``[task <id>]`` in a Celery task, ``[-]``
    elsewhere, in the ``%(origin)s`` of the format (RequestIdFilter must run first)."""

    def format(self, record: logging.LogRecord) -> str:
        request_id, task_id = getattr(record, "request_id", "-"), getattr(record, "task_id", "-")
        record.origin = request_id if request_id != "-" or task_id == "-" else f"task {task_id}"
        return super().format(record)
