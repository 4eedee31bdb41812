"""Waiting for a real Celery worker's work (the ``worker`` fixture is in tests/conftest.py)."""

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], object], timeout: float = 15.0) -> bool:
    """Poll until ``predicate()`` is true or ``timeout`` seconds pass; whether it came true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def drain(timeout: float = 15.0) -> bool:
    """Wait until the worker has no delivery left to send: nothing pending, failed or in flight."""
    from planning_sync.models import Delivery

    busy = Delivery.objects.exclude(status__in=[Delivery.Status.DELIVERED, Delivery.Status.DEAD])
    return wait_for(lambda: not busy.exists(), timeout)
