"""Which rule handles which event: the exceptions app's side of its internal connector.

Rule modules register a function per event type with ``@handles("po.acknowledged", ...)``; the
connector (``exceptions.connector``) calls ``dispatch`` with each CloudEvents envelope the integration
engine delivers to it. A handler must be idempotent: a delivery may come again (a retry, a replay),
and raising the same finding twice only updates its case.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import transaction

type Envelope = dict[str, Any]
type Handler = Callable[[Envelope], None]

HANDLERS: defaultdict[str, list[Handler]] = defaultdict(list)
NAMESPACE = "supplyline"


def full_type(short: str) -> str:
    """``po.acknowledged`` is stored and sent as ``supplyline.po.acknowledged.v1``."""
    return f"{NAMESPACE}.{short}.v1"


def handles(*types: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for short in types:
            if handler not in HANDLERS[full_type(short)]:
                HANDLERS[full_type(short)].append(handler)
        return handler

    return register


def handled_types() -> list[str]:
    return sorted(HANDLERS)


def dispatch(envelope: Envelope) -> int:
    """Run every handler of the envelope's type in one transaction: all of them apply, or none. Returns how many."""
    handlers = HANDLERS.get(envelope.get("type", ""), [])
    if not handlers:
        return 0
    with transaction.atomic():
        for handler in handlers:
            handler(envelope)
    return len(handlers)
