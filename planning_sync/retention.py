"""How long the outbox keeps what it has delivered, and the pruning that holds it to that.

An event is kept ``PLANNING_SYNC_RETENTION_DAYS`` (400) after it was recorded, then deleted with its
deliveries once every one of them is delivered. An event with a delivery still pending, failing, in
flight or dead is kept whatever its age: it is work, or a dead letter waiting for a person. 400 days
outlasts the longest KPI window (52 weeks), whose acknowledgement cycle starts at the ``po.issued`` or
``po.revised`` event; 0 keeps everything.

The beat task ``planning_sync.tasks.prune_outbox`` runs it nightly, ``manage.py prune_outbox`` by hand.
It walks the old events in id order, a batch per transaction, so it holds few locks at a time and
never scans the same kept events twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from planning_sync.models import Delivery, OutboxEvent

BATCH = 1000


@dataclass(frozen=True)
class Pruned:
    events: int = 0
    deliveries: int = 0
    before: dt.datetime | None = None  # the cutoff: events recorded before it were considered


def cutoff(now: dt.datetime | None = None) -> dt.datetime | None:
    """Events recorded before this may go; None when retention is off (0 days)."""
    days = settings.PLANNING_SYNC_RETENTION_DAYS
    if days <= 0:
        return None
    return (now or timezone.now()) - dt.timedelta(days=days)


def _settled() -> QuerySet[OutboxEvent]:
    """Events every delivery of which is delivered (an event no connector wanted has none)."""
    open_work = Delivery.objects.filter(event=OuterRef("pk")).exclude(status=Delivery.Status.DELIVERED)
    return OutboxEvent.objects.filter(~Exists(open_work))


def prunable(before: dt.datetime) -> QuerySet[OutboxEvent]:
    return _settled().filter(recorded_at__lt=before)


def prune_outbox(*, now: dt.datetime | None = None, batch: int = BATCH) -> Pruned:
    """Delete the settled events recorded before the cutoff, and their deliveries; what was deleted."""
    before = cutoff(now)
    if before is None:
        return Pruned()
    events = deliveries = 0
    last = 0
    while True:
        with transaction.atomic():
            ids = list(prunable(before).filter(id__gt=last).order_by("id").values_list("id", flat=True)[:batch])
            if not ids:
                break
            last = ids[-1]
            # Only delivered ones: a replay that made one pending since the ids were read keeps it, and
            # keeps its event (the second statement deletes only events left with no delivery).
            _, gone = Delivery.objects.filter(event_id__in=ids, status=Delivery.Status.DELIVERED).delete()
            deliveries += gone.get(Delivery._meta.label, 0)
            has_any = Delivery.objects.filter(event=OuterRef("pk"))
            _, gone = OutboxEvent.objects.filter(id__in=ids).filter(~Exists(has_any)).delete()
            events += gone.get(OutboxEvent._meta.label, 0)
    return Pruned(events=events, deliveries=deliveries, before=before)


def prune_preview(*, now: dt.datetime | None = None) -> Pruned:
    """What ``prune_outbox`` would delete now, counted; nothing changes."""
    before = cutoff(now)
    if before is None:
        return Pruned()
    events = prunable(before)
    return Pruned(
        events=events.count(),
        deliveries=Delivery.objects.filter(event__in=events).count(),
        before=before,
    )
