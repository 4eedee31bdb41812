"""Outbox events and deliveries written directly, with the times a monitor test needs to know."""

from __future__ import annotations

import datetime as dt
from typing import Any

from planning_sync.models import Connector, Delivery, OutboxEvent

ACKNOWLEDGED = "supplyline.po.acknowledged.v1"
LINE_CHANGED = "supplyline.po.line.changed.v1"


def delivery_row(
    connector: Connector,
    *,
    status: str,
    recorded_at: dt.datetime,
    latency: dt.timedelta | None = None,
    event_type: str = ACKNOWLEDGED,
    po_number: str = "PO-1",
    **fields: Any,
) -> Delivery:
    """One event recorded at ``recorded_at`` and its delivery; delivered ``latency`` after the commit if given."""
    event = OutboxEvent.objects.create(
        type=event_type,
        subject_type="purchase_order",
        subject=po_number,
        aggregate_key=f"purchase_order:{po_number}",
        data={"po_number": po_number},
    )
    OutboxEvent.objects.filter(pk=event.pk).update(recorded_at=recorded_at)  # auto_now_add ignores a given value
    event.refresh_from_db()
    fields.setdefault("next_attempt_at", recorded_at)
    return Delivery.objects.create(
        event=event,
        connector=connector,
        aggregate_key=event.aggregate_key,
        status=status,
        delivered_at=recorded_at + latency if latency is not None else None,
        **fields,
    )


def scenario(connector: Connector, now: dt.datetime) -> None:
    """A connector's last hours, with figures the tests check.

    Last hour: 20 delivered at 0.1 s, 0.2 s ... 2.0 s after their commit (p50 1050 ms, p95 1905 ms),
    3 dead after a 400, 1 failed waiting for its retry: error rate 4 / 24 = 16.7 %.
    Backlog: 2 pending (the oldest committed 300 s ago), the failed one and 1 in flight = 4.
    Older than an hour: 1 delivered (100 s latency) and 1 dead after 12 attempts, outside the window.
    Retries (attempts after the first): 2 + 11 + 1 + 2 = 16.
    """
    minute = dt.timedelta(minutes=1)
    for i in range(20):
        delivery_row(
            connector,
            status=Delivery.Status.DELIVERED,
            recorded_at=now - 30 * minute,
            latency=dt.timedelta(milliseconds=100 * (i + 1)),
            attempts=3 if i == 0 else 1,
            po_number=f"PO-{i}",
        )
    old = now - dt.timedelta(hours=3)
    delivery_row(connector, status=Delivery.Status.DELIVERED, recorded_at=old, latency=dt.timedelta(seconds=100))
    delivery_row(connector, status=Delivery.Status.DEAD, recorded_at=old, attempts=12, last_error="HTTP 500: down")
    for i in range(3):
        delivery_row(
            connector,
            status=Delivery.Status.DEAD,
            recorded_at=now - 5 * minute,
            event_type=LINE_CHANGED,
            po_number=f"PO-DEAD-{i}",
            attempts=1,
            last_status_code=400,
            last_error="HTTP 400: unknown line",
        )
    delivery_row(
        connector,
        status=Delivery.Status.FAILED,
        recorded_at=now - 2 * minute,
        next_attempt_at=now + dt.timedelta(seconds=30),
        attempts=2,
        last_status_code=503,
        last_error="HTTP 503: busy",
    )
    delivery_row(connector, status=Delivery.Status.PENDING, recorded_at=now - 5 * minute, po_number="PO-P1")
    delivery_row(connector, status=Delivery.Status.PENDING, recorded_at=now - minute, po_number="PO-P2")
    delivery_row(
        connector, status=Delivery.Status.IN_FLIGHT, recorded_at=now - 30 * dt.timedelta(seconds=1), attempts=3
    )
