"""The one small interface every connector implements, and the registry that finds them by kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError

from planning_sync import credentials
from planning_sync.models import Connector

if TYPE_CHECKING:
    from purchasing.models import PurchaseOrder

# 4xx answers that mean "try again later" rather than "this will never work".
RETRYABLE_4XX = frozenset({408, 409, 425, 429})


@dataclass(frozen=True)
class Outcome:
    """What one send achieved. ``retry_after`` comes from the receiver (429/503 Retry-After), in seconds."""

    delivered: bool
    status_code: int | None = None
    error: str = ""
    retry_after: float | None = None

    @property
    def permanent(self) -> bool:
        """A failure that no retry will fix: a 4xx other than the retryable ones."""
        code = self.status_code
        return not self.delivered and code is not None and 400 <= code < 500 and code not in RETRYABLE_4XX


class BaseConnector:
    kind: ClassVar[str]
    label: ClassVar[str]
    # Whether the system takes a supplier's quantity or price change on a confirmed order. Where it
    # does not (Tryton refuses them), the exception rules ask the buyer to make the change by hand.
    applies_quantity_price_changes: ClassVar[bool] = True

    def __init__(self, connector: Connector) -> None:
        # A credential no key opens stops this connector, with an error naming the setting, never a blank one sent.
        credentials.require_readable(connector.config)
        self.connector = connector
        self.config = dict(connector.config or {})

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Raise ValidationError naming each wrong setting."""

    def deliver(self, envelope: dict[str, Any]) -> Outcome:
        raise NotImplementedError

    def holds(self, po: PurchaseOrder) -> bool:
        """Whether this system holds the PO (it came from there), so changes to it must reach it."""
        return False


def connectors_needing_manual_changes(po: PurchaseOrder) -> list[Connector]:
    """The enabled distributor connectors that hold the PO but cannot take quantity or price changes."""
    candidates = [
        connector
        for connector in Connector.objects.filter(is_enabled=True, supplier__isnull=True).order_by("name")
        if not REGISTRY.get(connector.kind, BaseConnector).applies_quantity_price_changes
    ]
    return [connector for connector in candidates if connector_for(connector).holds(po)]


REGISTRY: dict[str, type[BaseConnector]] = {}


def register(cls: type[BaseConnector]) -> type[BaseConnector]:
    REGISTRY[cls.kind] = cls
    return cls


def connector_for(connector: Connector) -> BaseConnector:
    try:
        return REGISTRY[connector.kind](connector)
    except KeyError:
        raise ValidationError(f"Unknown connector kind {connector.kind!r}.") from None


def kind_choices() -> list[tuple[str, str]]:
    return [(kind, cls.label) for kind, cls in sorted(REGISTRY.items())]
