"""Purchase orders and acknowledgements: list, detail (ETag, If-None-Match), answer (If-Match)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.idempotency import idempotent
from config.api.views import SupplierApiView, SupplierListApiView
from purchasing import selectors
from purchasing.api.common import ETAG_HEADER, key_supplier, problems, validated
from purchasing.errors import StaleVersion
from purchasing.filters import PurchaseOrderApiFilter
from purchasing.models import Acknowledgement, PurchaseOrder
from purchasing.rules import Delivery
from purchasing.serializers import (
    AcknowledgementInputSerializer,
    AcknowledgementOutput,
    PurchaseOrderDetailOutput,
    PurchaseOrderSummaryOutput,
    po_etag,
)
from purchasing.services import LineDecision, acknowledgement_submit

_TAG = re.compile(r'^(?:W/)?"po-(?P<number>.+)-v(?P<version>\d+)"$')


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def _matches(header: str, po: PurchaseOrder) -> bool:
    """Whether an If-None-Match or If-Match list names the PO's current ETag (weak comparison; ``*`` matches)."""
    current = po_etag(po)
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in _tags(header))


def expected_version(request: Request, po: PurchaseOrder) -> int | None:
    """The version the client read, from If-Match: None without the header (no check); StaleVersion when it
    names no current ETag of this PO, before anything is written."""
    header = request.headers.get("If-Match")
    if not header or header.strip() == "*":
        return None
    if not _matches(header, po):
        raise StaleVersion(po.version)
    return po.version


# --- list and detail ----------------------------------------------------------------------------------


class PurchaseOrderListApi(SupplierListApiView):
    required_scopes: ClassVar[dict[str, str]] = {"GET": "orders:read"}
    serializer_class = PurchaseOrderSummaryOutput
    filterset_class = PurchaseOrderApiFilter
    # The most recently changed first: an integration polls with updated_since and pages back (po_supplier_updated_idx).
    ordering: ClassVar[tuple[str, ...]] = ("-updated_at", "-id")

    def get_queryset(self) -> QuerySet[PurchaseOrder]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no API key
            return PurchaseOrder.objects.none()
        return selectors.api_purchase_order_list(supplier=key_supplier(self.request))

    @extend_schema(
        operation_id="purchase_orders_list",
        summary="List your purchase orders",
        description="Your supplier's POs, most recently changed first, in keyset pages (follow `next`).",
        responses={200: PurchaseOrderSummaryOutput(many=True), **problems(422)},
        tags=["purchase orders"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class PurchaseOrderDetailApi(SupplierApiView):
    required_scopes: ClassVar[dict[str, str]] = {"GET": "orders:read"}

    @extend_schema(
        operation_id="purchase_orders_retrieve",
        summary="Read one purchase order",
        description="The PO with its lines and schedule lines. The ETag header names this version of it: send it "
        "back as If-None-Match to poll cheaply (304 while unchanged), or as If-Match when you acknowledge.",
        parameters=[
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, description="An ETag you hold."),
            ETAG_HEADER,
        ],
        responses={
            200: PurchaseOrderDetailOutput,
            304: OpenApiResponse(description="Not modified: the ETag you sent is still current."),
        },
        tags=["purchase orders"],
    )
    def get(self, request: Request, number: str) -> Response:
        po = selectors.api_purchase_order_get(supplier=key_supplier(request), number=number)
        headers = {"ETag": po_etag(po)}
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match and _matches(if_none_match, po):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(PurchaseOrderDetailOutput(po).data, headers=headers)


# --- acknowledgement ---------------------------------------------------------------------------------

_ACK_EXAMPLE = {
    "note": "Line 20 split, line 30 discontinued.",
    "lines": [
        {"line_number": 10, "action": "accept"},
        {
            "line_number": 20,
            "action": "change",
            "quantity": "60",
            "unit_price": "12.40",
            "deliveries": [{"quantity": "40", "date": "2026-12-20"}, {"quantity": "20", "date": "2027-01-10"}],
        },
        {"line_number": 30, "action": "reject", "reason_code": "DISCONTINUED", "note": "Replaced by SKU-2"},
    ],
}


def _decision(line: dict[str, Any]) -> LineDecision:
    return LineDecision(
        line_number=line["line_number"],
        action=line["action"],
        reason_code=line["reason_code"],
        note=line["note"],
        quantity=line["quantity"],
        unit_price=line["unit_price"],
        deliveries=tuple(Delivery(d["quantity"], d["date"]) for d in line["deliveries"]),
    )


def _by_line_number(data: Any) -> Any:
    """Key an answer's shape errors by line number (``lines.20.quantity``), as the service keys its own."""

    def position(path: str, index: int) -> str:
        lines = data.get("lines") if isinstance(data, dict) else None
        if path == "lines" and isinstance(lines, list) and index < len(lines) and isinstance(lines[index], dict):
            number = lines[index].get("line_number")
            if isinstance(number, int) and not isinstance(number, bool):
                return f"lines.{number}"
        return f"{path}.{index + 1}"

    return position


def _acknowledgement_json(ack: Acknowledgement) -> dict[str, Any]:
    """The acknowledgement as the service returned it: with its answers and the PO it updated, no query."""
    po = ack.po
    return {
        "id": ack.pk,
        "po_number": po.number,
        "revision": ack.revision,
        "version": po.version,
        "status": po.status,
        "etag": po_etag(po),
        "channel": ack.channel,
        "note": ack.note,
        "submitted_at": ack.submitted_at,
        "lines": ack.lines.all(),
    }


class AcknowledgementCreateApi(SupplierApiView):
    required_scopes: ClassVar[dict[str, str]] = {"POST": "orders:acknowledge"}

    @extend_schema(
        operation_id="acknowledgements_create",
        summary="Acknowledge a purchase order",
        description=(
            "Answer every line awaiting an answer: accept, reject (with a reason code) or change (quantity, unit "
            "price, deliveries; several deliveries split the line). All or nothing. Each line's `outcome` says "
            "what became of it: `applied` (accepted, or changed within your tolerances: in effect now) or "
            "`pending` (a change beyond tolerance, or any rejection: waits for the buyer, who approves or "
            "declines it; you hear through po.proposal.decided). With If-Match, an order changed since you read "
            "it is refused with 412 and nothing is written; without it, no version check is made."
        ),
        request=AcknowledgementInputSerializer,
        parameters=[
            OpenApiParameter(
                "If-Match", str, OpenApiParameter.HEADER, description="The ETag you read the order at (recommended)."
            ),
            ETAG_HEADER,
        ],
        responses={201: AcknowledgementOutput, **problems(400, 412)},
        examples=[OpenApiExample("Accept, split and reject", value=_ACK_EXAMPLE, request_only=True)],
        tags=["purchase orders"],
    )
    @idempotent
    def post(self, request: Request, number: str) -> Response:
        po = selectors.api_acknowledgeable_po_get(supplier=key_supplier(request), number=number)
        version = expected_version(request, po)
        data = validated(AcknowledgementInputSerializer(data=request.data), _by_line_number(request.data))
        ack = acknowledgement_submit(
            po=po,
            by=None,
            decisions=[_decision(line) for line in data["lines"]],
            channel="api",
            expected_version=version,
            note=data["note"],
        )
        body = AcknowledgementOutput(_acknowledgement_json(ack)).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"ETag": body["etag"]})
