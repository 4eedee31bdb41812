"""The one function through which domain apps touch the integration layer."""

import functools
import logging
from typing import Any

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from planning_sync.models import Delivery, OutboxEvent, Subscription
from planning_sync.webhooks import SUPPLIER_EVENT_TYPES

logger = logging.getLogger("supplyline.outbox")
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
    """Record that something happened, in the caller's transaction, with a delivery per subscribed connector.

    ``type`` is the short name (``po.acknowledged``); the stored type is namespaced
    and versioned (``supplyline.po.acknowledged.v1``). ``critical`` marks a
    supplier commitment the ERP must get first. The subject's aggregate is
    its purchase order where it has one, so one PO's events keep their order.
    Raises if called outside a transaction: an event without its change, or a
    change without its event, is what the outbox exists to prevent. Once the
    transaction commits, a dispatcher is woken so delivery does not wait for
    the periodic sweep (which still picks up anything a lost wake-up left).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_event must be called inside the transaction that makes the change.")
    if channel not in CHANNELS:
        raise ValueError(f"Unknown channel {channel!r}.")
    subject_type, key, aggregate = _subject_key(subject)
    event = OutboxEvent.objects.create(
        type=f"{EVENT_NAMESPACE}.{type}.v1",
        subject_type=subject_type,
        subject=key,
        aggregate_key=aggregate,
        data=data,
        actor=actor if getattr(actor, "pk", None) else None,
        channel=channel,
        supplier_id=getattr(subject, "supplier_id", None),
        priority=OutboxEvent.Priority.CRITICAL if critical else OutboxEvent.Priority.DEFAULT,
    )
    deliveries = fan_out(event)
    logger.info(
        "event recorded",
        extra={
            "event_id": str(event.event_id),
            "event_type": event.type,
            "subject": key,
            "deliveries": len(deliveries),
        },
    )
    if deliveries:
        from planning_sync import tasks  # the task module imports the engine, which imports this module

        for priority in sorted({d.priority for d in deliveries}):
            transaction.on_commit(functools.partial(tasks.wake_dispatcher, priority), robust=True)
    return event


def fan_out(event: OutboxEvent) -> list[Delivery]:
    """One pending delivery per enabled connector with an active subscription that wants this type.

    The tenant boundary of supplier webhooks: a supplier's connector gets only events naming that
    supplier, and only the types suppliers may receive. Its deliveries go in the bulk class, so a slow
    supplier endpoint never holds up a dispatcher of the ERP's critical work. A distributor's connector
    with a ``delivery_class`` (the built-in exception rules) gets its deliveries in that class.
    """
    audience = Q(connector__supplier__isnull=True)
    if event.supplier_id is not None and event.type in SUPPLIER_EVENT_TYPES:
        audience |= Q(connector__supplier_id=event.supplier_id)
    subscriptions = Subscription.objects.filter(audience, is_active=True, connector__is_enabled=True).values_list(
        "connector_id", "connector__supplier_id", "connector__delivery_class", "event_type"
    )
    connectors: dict[int, int] = {}
    for connector_id, supplier_id, delivery_class, event_type in subscriptions:
        if Subscription(event_type=event_type).matches(event.type):
            if supplier_id is not None:
                connectors[connector_id] = OutboxEvent.Priority.BULK
            else:
                connectors[connector_id] = event.priority if delivery_class is None else delivery_class
    now = timezone.now()
    return Delivery.objects.bulk_create(
        Delivery(
            event=event,
            connector_id=connector_id,
            aggregate_key=event.aggregate_key,
            priority=connectors[connector_id],
            next_attempt_at=now,
        )
        for connector_id in sorted(connectors)
    )


def _subject_key(subject: models.Model) -> tuple[str, str, str]:
    """The subject's type, the key receivers know it by, and the aggregate whose events keep their order."""
    label = subject._meta.model_name or "object"
    if label == "purchaseorder":
        number = str(subject.number)  # type: ignore[attr-defined]
        return "purchase_order", number, f"purchase_order:{number}"
    if label == "shipmentnotice":
        # ASN numbers are unique per supplier only: the aggregate names the supplier too.
        number, supplier_id = str(subject.number), subject.supplier_id  # type: ignore[attr-defined]
        return "shipment_notice", number, f"shipment_notice:{supplier_id}:{number}"
    if label == "item":
        # Stock and demand events: one item's events keep their order, keyed by the SKU receivers know.
        sku = str(subject.sku)  # type: ignore[attr-defined]
        return "item", sku, f"item:{sku}"
    if label == "supplieritem":
        # One supplier's terms for one item: receivers know it by the supplier's code and our SKU.
        key = f"{subject.supplier.code}/{subject.item.sku}"  # type: ignore[attr-defined]
        return "supplier_item", key, f"supplier_item:{subject.pk}"
    if label == "exceptioncase":
        return "exception_case", str(subject.pk), f"exception_case:{subject.pk}"
    return label, str(subject.pk), f"{label}:{subject.pk}"
