"""The CloudEvents 1.0 structured JSON envelope of an outbox event."""

from typing import Any

from planning_sync.models import OutboxEvent

SOURCE = "/supplyline"


def cloudevent(event: OutboxEvent) -> dict[str, Any]:
    """The event as CloudEvents 1.0 structured-mode JSON; its id is our idempotency key."""
    return {
        "specversion": "1.0",
        "id": str(event.event_id),
        "source": SOURCE,
        "type": event.type,
        "subject": event.subject,
        "time": event.recorded_at.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "supplylinechannel": event.channel or "system",
        "data": event.data,
    }
