"""Dead letters to the distributor's own connectors."""

from __future__ import annotations

from collections.abc import Sequence

from exceptions.models import CaseType
from exceptions.rules.base import Outcome
from exceptions.services import Concern, Finding
from planning_sync.models import Delivery
from purchasing.models import PurchaseOrder


def delivery_key(delivery: Delivery) -> str:
    return f"{CaseType.DELIVERY_DEAD}:{delivery.pk}"


def delivery_outcomes(deliveries: Sequence[Delivery]) -> dict[str, Outcome]:
    """A finding per dead delivery; the PO it names is looked up in one query, for the assignee."""
    numbers = {d.event.subject for d in deliveries if d.event.subject_type == "purchase_order"}
    pos = {po.number: po for po in PurchaseOrder.objects.filter(number__in=numbers)}
    outcomes: dict[str, Outcome] = {}
    for delivery in deliveries:
        if delivery.status == Delivery.Status.DELIVERED:
            outcomes[delivery_key(delivery)] = f"Delivered to {delivery.connector.name} after a replay."
        elif delivery.status == Delivery.Status.DEAD:
            po = pos.get(delivery.event.subject) if delivery.event.subject_type == "purchase_order" else None
            outcomes[delivery_key(delivery)] = _dead_finding(delivery, po)
    return outcomes


def _dead_finding(delivery: Delivery, po: PurchaseOrder | None) -> Finding:
    event, connector = delivery.event, delivery.connector
    short_type = event.type.removeprefix("supplyline.").removesuffix(".v1")
    return Finding(
        type=CaseType.DELIVERY_DEAD,
        key=delivery_key(delivery),
        title=f"Sync to {connector.name} failed: {short_type} {event.subject}",
        summary=f"The {event.type} event about {event.subject} did not reach {connector.name} after "
        f"{delivery.attempts} attempts: {delivery.last_error[:300] or 'no error recorded'}. Replay it once the "
        f"cause is fixed.",
        # The PO's buyer owns it; an event about no PO goes to nobody (so no supplier, whose buyer would be chosen).
        concern=Concern(supplier=po.supplier_id if po else None, po=po, delivery=delivery),
        details={
            "episode": f"replays:{delivery.replays}",
            "connector": connector.name,
            "event_id": str(event.event_id),
            "event_type": event.type,
            "subject": event.subject,
            "attempts": str(delivery.attempts),
            "last_error": delivery.last_error[:500],
            "last_status_code": str(delivery.last_status_code or ""),
        },
    )
