"""Reads for the supplier REST API: everything is scoped to the API key's supplier, never to a person."""

import uuid

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from planning_sync.models import OutboxEvent
from purchasing.models import (
    InboundDocument,
    OutboundDocument,
    PurchaseOrder,
    PurchaseOrderLine,
    ScheduleLine,
    ShipmentLine,
    ShipmentNotice,
    ShipmentPackage,
)
from suppliers.models import Supplier

# The outbox event types a supplier's own feed carries (docs/api.md, "Events feed"): what the buyer and the
# ERP did to its orders, and its own answers and notices. Buyer-internal facts (receipts, line changes
# already reported through po.acknowledged or po.proposal.decided) stay out.
SUPPLIER_EVENT_TYPES = (
    "po.issued",
    "po.revised",
    "po.cancelled",
    "po.acknowledged",
    "po.acknowledgement.overdue",
    "po.proposal.decided",
    "asn.submitted",
    "asn.replaced",
    "asn.cancelled",
    "asn.received",
)
STORED_SUPPLIER_EVENT_TYPES = tuple(f"supplyline.{name}.v1" for name in SUPPLIER_EVENT_TYPES)


class UnknownEventCursor(ValueError):
    """``after`` names no event of this supplier's feed."""


def api_purchase_order_list(*, supplier: Supplier) -> QuerySet[PurchaseOrder]:
    """The supplier's POs with their site and line totals, for one page of the API list."""
    return PurchaseOrder.objects.filter(supplier=supplier).select_related("site").with_line_totals()


def api_purchase_order_get(*, supplier: Supplier, number: str) -> PurchaseOrder:
    """One of the supplier's POs with its lines, items and schedule lines (three queries), or 404."""
    lines = PurchaseOrderLine.objects.select_related("item").prefetch_related(
        Prefetch("schedule_lines", queryset=ScheduleLine.objects.order_by("schedule_number"))
    )
    try:
        return (
            PurchaseOrder.objects.filter(supplier=supplier)
            .select_related("site")
            .prefetch_related(Prefetch("lines", queryset=lines.order_by("line_number")))
            .get(number=number)
        )
    except PurchaseOrder.DoesNotExist:
        raise Http404("No such purchase order.") from None


def api_acknowledgeable_po_get(*, supplier: Supplier, number: str) -> PurchaseOrder:
    """The supplier's PO to answer (the service locks and re-reads it), or 404."""
    try:
        return PurchaseOrder.objects.get(supplier=supplier, number=number)
    except PurchaseOrder.DoesNotExist:
        raise Http404("No such purchase order.") from None


def api_shipment_notice_list(*, supplier: Supplier) -> QuerySet[ShipmentNotice]:
    return ShipmentNotice.objects.filter(supplier=supplier).select_related("site", "replaces")


def api_shipment_notice_get(*, supplier: Supplier, pk: int) -> ShipmentNotice:
    """One of the supplier's notices with its packages and lines joined in, or 404."""
    lines = ShipmentLine.objects.select_related("po_line__po", "po_line__item", "package").order_by("position")
    packages = ShipmentPackage.objects.select_related("parent").order_by("position")
    try:
        return (
            ShipmentNotice.objects.filter(supplier=supplier)
            .select_related("site", "replaces")
            .prefetch_related(Prefetch("packages", queryset=packages), Prefetch("lines", queryset=lines))
            .get(pk=pk)
        )
    except ShipmentNotice.DoesNotExist:
        raise Http404("No such shipment notice.") from None


def api_document_get(*, supplier: Supplier, pk: int) -> InboundDocument:
    """One of the supplier's inbound documents, without its bytes, with its replies, or 404."""
    replies = OutboundDocument.objects.defer("content").order_by("created_at", "id")
    try:
        return (
            InboundDocument.objects.filter(supplier=supplier)
            .defer("content")
            .prefetch_related(Prefetch("replies", queryset=replies))
            .get(pk=pk)
        )
    except InboundDocument.DoesNotExist:
        raise Http404("No such document.") from None


def api_document_shipments(*, document: InboundDocument) -> dict[str, int]:
    """The ids of the notices a document created, by number (the notice this document made, not a later one)."""
    numbers = [str(number) for number in document.outcome.get("shipments", [])]
    rows = ShipmentNotice.objects.filter(supplier_id=document.supplier_id, document=document, number__in=numbers)
    return dict(rows.values_list("number", "id"))


def supplier_event_list(*, supplier: Supplier, after: str | None, limit: int) -> list[OutboxEvent]:
    """The supplier's feed: its events of SUPPLIER_EVENT_TYPES in outbox order, after the event whose
    CloudEvents id is ``after``; at most ``limit``. Two queries whatever the page (outbox_supplier_idx).

    Raises UnknownEventCursor when ``after`` is not an event of this feed.
    """
    events = OutboxEvent.objects.filter(supplier=supplier, type__in=STORED_SUPPLIER_EVENT_TYPES)
    if after:
        try:
            event_id = uuid.UUID(after)
        except ValueError:
            raise UnknownEventCursor(after) from None
        last = events.filter(event_id=event_id).values_list("id", flat=True).first()
        if last is None:
            raise UnknownEventCursor(after)
        events = events.filter(id__gt=last)
    return list(events.order_by("id")[:limit])
