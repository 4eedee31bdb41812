"""Who changed it, through which channel, from where: the context stored with every audit event.

Each unit of work (a web or API request, a Celery task, a management command) opens one context with
``opened(...)``; pghistory then puts its metadata, as JSON, into two transaction-local settings
(``pghistory.context_id``, ``pghistory.context_metadata``) at the front of every writing statement,
where the triggers read it. That costs no extra query: the ``set_config`` calls travel in the same
round trip as the statement they precede, and reads are left alone.

What is known only later (the API key, once DRF has authenticated the request) is added with
``note(...)``; what holds for part of the work (a B2B document, a feed batch) with ``scoped(...)``.
On SQLite, which has no triggers, nothing is opened and every function here does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import pghistory
from django.db import connection, models

if TYPE_CHECKING:
    from suppliers.models import ApiKey


class Channel(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"
    DOCUMENT = "document", "Document (EDI, CSV, Excel)"
    TASK = "task", "Background task"
    ADMIN = "admin", "Django admin"
    COMMAND = "command", "Management command"
    FEED = "feed", "ERP or planning feed"


class _State(threading.local):
    # The metadata dict of the open context: pghistory serializes this very dict before each write.
    metadata: dict[str, Any] | None = None


_state = _State()
_tasks: dict[str, ExitStack] = {}


def is_recorded() -> bool:
    """Whether changes are audited here: PostgreSQL has the triggers, SQLite (development) has none."""
    return connection.vendor == "postgresql"


def current() -> dict[str, Any] | None:
    """The open context's metadata, or None outside one."""
    return _state.metadata


@contextmanager
def opened(**metadata: Any) -> Iterator[None]:
    """Open the context of one unit of work; every change inside it is recorded with ``metadata``.

    Inside an open context (an eager task run by a request) this does nothing: the change is the
    request's, and it keeps the request's context.
    """
    if not is_recorded() or _state.metadata is not None:
        yield
        return
    with pghistory.context(**metadata) as context:
        _state.metadata = context.metadata
        try:
            yield
        finally:
            _state.metadata = None


def note(**metadata: Any) -> None:
    """Add to the open context, for the rest of the unit of work."""
    if _state.metadata is not None:
        _state.metadata.update(metadata)


@contextmanager
def scoped(**metadata: Any) -> Iterator[None]:
    """Add to the open context for a block; the values before it come back after."""
    context = _state.metadata
    if context is None:
        yield
        return
    saved = {key: context[key] for key in metadata if key in context}
    context.update(metadata)
    try:
        yield
    finally:
        for key in metadata:
            context.pop(key, None)
        context.update(saved)


# --- the entry points --------------------------------------------------------------------------------


def api_key_authenticated(api_key: ApiKey) -> None:
    """An API request acts for its key's supplier system, not for a person."""
    note(channel=Channel.API, user=None, email=None, api_key=api_key.prefix, supplier=api_key.supplier.code)


def task_started(*, task_id: str, name: str) -> None:
    """Celery's ``task_prerun``: a task's changes are its own, unless it runs eagerly inside a request."""
    stack = ExitStack()
    stack.enter_context(opened(channel=Channel.TASK, task=name, task_id=task_id))
    _tasks[task_id] = stack


def task_finished(*, task_id: str) -> None:
    stack = _tasks.pop(task_id, None)
    if stack is not None:
        stack.close()


def command(name: str) -> AbstractContextManager[None]:
    """The context of a management command (``manage.py shell`` included)."""
    return opened(channel=Channel.COMMAND, command=name)


def document(document_id: int) -> AbstractContextManager[None]:
    """Changes applied from a B2B document (EDI, CSV, Excel), whoever sent it and however."""
    return scoped(channel=Channel.DOCUMENT, document=document_id)


def feed(name: str, *, connector: str | None) -> AbstractContextManager[None]:
    """Changes applied from the ERP's or the planning system's feed, pushed or pulled."""
    return scoped(channel=Channel.FEED, feed=name, connector=connector)
