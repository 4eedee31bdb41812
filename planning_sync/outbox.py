"""The one function through which domain apps touch the integration layer."""

from typing import Any

from django.db import models, transaction

from planning_sync.models import OutboxEvent

EVENT_NAMESPACE = "supplyline"
CHANNELS = ("web", "api", "edi", "csv", "erp", "system")


def record_event(
    type: str,
    *,
    subject: models.Model,
    data: dict[str, Any],
    actor: Any = None,
    channel: str = "system",
    critical: bool = False,
) -> OutboxEvent:
    """Record that something happened, in the caller's transaction.

    ``type`` is the short name (``po.acknowledged``); the stored type is namespaced
    and versioned (``supplyline.po.acknowledged.v1``). ``critical`` marks a
    supplier commitment the ERP must get first. The subject's aggregate is
    its purchase order where it has one, so one PO's events keep their order.
    Raises if called outside a transaction: an event without its change, or a
    change without its event, is what the outbox exists to prevent.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_event must be called inside the transaction that makes the change.")
    if channel not in CHANNELS:
        raise ValueError(f"Unknown channel {channel!r}.")
    subject_type, key = _subject_key(subject)
    return OutboxEvent.objects.create(
        type=f"{EVENT_NAMESPACE}.{type}.v1",
        subject_type=subject_type,
        subject=key,
        aggregate_key=f"{subject_type}:{key}",
        data=data,
        actor=actor if getattr(actor, "pk", None) else None,
        channel=channel,
        priority=OutboxEvent.Priority.CRITICAL if critical else OutboxEvent.Priority.DEFAULT,
    )


def _subject_key(subject: models.Model) -> tuple[str, str]:
    label = subject._meta.model_name or "object"
    if label == "purchaseorder":
        return "purchase_order", str(subject.number)  # type: ignore[attr-defined]
    return label, str(subject.pk)
