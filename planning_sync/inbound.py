"""Inbound feeds: apply a batch of documents from the ERP or the planning system, quarantining the bad ones.

Pushed to our API (planning_sync.api) or pulled by a connector (planning_sync.feeds),
every batch goes through ``apply_batch``, which hands each document to the
purchasing import of its feed.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DataError, IntegrityError, transaction

from config.audit import context as audit_context
from planning_sync.models import Connector, InboundRecord
from purchasing.inbound import (
    ImportOutcome,
    demand_import,
    inventory_import,
    purchase_order_import,
    receipt_import,
    safety_stock_import,
)

logger = logging.getLogger("supplyline.inbound")
Feed = InboundRecord.Feed

FEEDS: dict[str, Callable[[Any], ImportOutcome]] = {
    Feed.PURCHASE_ORDERS: purchase_order_import,
    Feed.RECEIPTS: receipt_import,
    Feed.INVENTORY: inventory_import,
    Feed.DEMAND: demand_import,
    Feed.SAFETY_STOCK: safety_stock_import,
}
# Which fields of a feed's document name it, for the quarantine and the batch summary.
_EXTERNAL_ID: dict[str, tuple[str, ...]] = {
    Feed.PURCHASE_ORDERS: ("erp_id",),
    Feed.RECEIPTS: ("erp_id",),
    Feed.INVENTORY: ("item_sku", "site_code"),
    Feed.DEMAND: ("external_id",),
    Feed.SAFETY_STOCK: ("item_sku", "site_code"),
}


@dataclass(frozen=True)
class Quarantined:
    index: int
    external_id: str
    error: str


@dataclass
class BatchResult:
    """What one batch did: how many documents had each outcome, and which were quarantined."""

    outcomes: Counter[str] = field(default_factory=Counter)
    quarantined: list[Quarantined] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return self.outcomes[ImportOutcome.UNCHANGED]

    @property
    def applied(self) -> int:
        """Documents that changed something."""
        return self.outcomes.total() - self.unchanged


def apply_batch(feed: str, documents: Sequence[Any], *, connector: Connector | None) -> BatchResult:
    """Apply each document in its own transaction (a savepoint inside a caller's), all or nothing per document.

    A document that fails validation (or that the database refuses) is rolled
    back and kept as an InboundRecord with its error, and the rest still apply.
    Earlier quarantined records of a document that now applied (a fix, resent) are removed.
    Raises ValueError for an unknown feed.
    """
    if feed not in FEEDS:
        raise ValueError(f"Unknown feed {feed!r}: use one of {', '.join(FEEDS)}.")
    result = BatchResult()
    applied_ids: set[str] = set()
    with audit_context.feed(feed, connector=connector.name if connector else None):
        for index, document in enumerate(documents):
            external_id = external_id_of(feed, document)
            try:
                with transaction.atomic():
                    result.outcomes[FEEDS[feed](document)] += 1
            except (ValidationError, IntegrityError, DataError) as error:
                result.quarantined.append(_quarantine(feed, index, external_id, document, error, connector))
                applied_ids.discard(external_id)
            else:
                applied_ids.add(external_id)
    InboundRecord.objects.filter(feed=feed, external_id__in=applied_ids - {""}).delete()
    return result


def external_id_of(feed: str, document: Any) -> str:
    """The document's own key, e.g. the PO's erp_id, or ``SKU@SITE`` for inventory; empty when it has none."""
    if not isinstance(document, dict):
        return ""
    return "@".join(str(document.get(name, "")) for name in _EXTERNAL_ID[feed])[:100]


def _quarantine(
    feed: str, index: int, external_id: str, document: Any, error: Exception, connector: Connector | None
) -> Quarantined:
    text = error_text(error)
    InboundRecord.objects.create(connector=connector, feed=feed, external_id=external_id, payload=document, error=text)
    logger.warning("inbound document quarantined", extra={"feed": feed, "external_id": external_id, "error": text})
    return Quarantined(index=index, external_id=external_id, error=text)


def error_text(error: Exception) -> str:
    """One line naming each field and its problem: ``lines[2].quantity: -5 is less than the minimum of 0``."""
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        return "; ".join(
            message if name == NON_FIELD_ERRORS else f"{name}: {message}"
            for name, messages in error.message_dict.items()
            for message in messages
        )
    if isinstance(error, ValidationError):
        return "; ".join(error.messages)
    return f"The database refused the document: {error}"


# --- push authentication ---------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_inbound_token(connector: Connector) -> str:
    """A new bearer token for the connector's system to push feeds with; only its hash is kept.

    Returned once: show it to whoever configures the ERP or planning system. Replaces any earlier token.
    """
    token = secrets.token_urlsafe(32)
    connector.inbound_token_hash = _token_hash(token)
    connector.save(update_fields=["inbound_token_hash"])
    return token


def connector_for_token(token: str) -> Connector | None:
    """The enabled connector this bearer token belongs to, if any."""
    if not token:
        return None
    return Connector.objects.filter(inbound_token_hash=_token_hash(token), is_enabled=True).first()
